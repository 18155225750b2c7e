import Foundation
import ModelFormats
import RunStore
import XCTest

/// The job-array scripts of scripts/slurm on a real Slurm: the single-node cluster of
/// scripts/slurm/local-cluster.sh (CI starts it). Skipped where no such cluster answers.
final class SlurmArrayTests: XCTestCase {
    /// Where local-cluster.sh keeps its slurm.conf.
    private var slurmConf: String {
        let environment = ProcessInfo.processInfo.environment
        return environment["SLURM_CONF"]
            ?? (environment["QKPROBE_SLURM_STATE"] ?? "/tmp/qkprobe-slurm") + "/slurm.conf"
    }

    /// Runs a program with the cluster's configuration, killed after `seconds`.
    private func run(_ seconds: Int, _ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CLIResult {
        try CLI.runProcess("/usr/bin/timeout", ["--kill-after=10", "\(seconds)", program] + arguments,
                           environment: environment.merging(["SLURM_CONF": slurmConf]) { $1 })
    }

    private func skipUnlessSlurmAnswers() throws {
        guard FileManager.default.fileExists(atPath: slurmConf),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/sbatch") else {
            throw XCTSkip("no Slurm here (bash scripts/slurm/local-cluster.sh install && bash scripts/slurm/local-cluster.sh start)")
        }
        let nodes = try run(20, "/usr/bin/sinfo", ["--noheader", "--states=idle,mixed", "-o", "%N"])
        guard nodes.status == 0, !nodes.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw XCTSkip("Slurm does not answer with \(slurmConf) (bash scripts/slurm/local-cluster.sh start): \(nodes.stderr.prefix(200))")
        }
    }

    /// A job array of 3 shards (1 CPU each) and its dependent merge, submitted with submit.sh
    /// and waited for; the merged run equals an unsharded one-thread run bit for bit.
    func testJobArrayAndMergeGiveTheUnshardedRun() throws {
        try skipUnlessSlurmAnswers()
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try DefaultModel.resolve().path
        let dataset = CLI.packageRoot.appendingPathComponent("datasets/logic-calibration.jsonl").path
        let options = ["--limit", "12", "--save-activations"]
        let output = directory.appendingPathComponent("array")

        let started = Date()
        let submit = try run(900, "/bin/bash", [CLI.packageRoot.appendingPathComponent("scripts/slurm/submit.sh").path,
                                                "-n", "3", "-c", "1", "-t", "15", "--wait", model, dataset, output.path, "--"] + options,
                             environment: ["QKPROBE": CLI.executable.path])
        let arraySeconds = Date().timeIntervalSince(started)
        let logs = (try? FileManager.default.contentsOfDirectory(atPath: output.appendingPathComponent("logs").path)) ?? []
        let logText = try logs.sorted().map { name in
            "== \(name)\n" + (try String(contentsOf: output.appendingPathComponent("logs/\(name)"), encoding: .utf8))
        }.joined()
        XCTAssertEqual(submit.status, 0, submit.stdout + submit.stderr + logText)

        let whole = directory.appendingPathComponent("whole.h5").path
        let unshardedStart = Date()
        let probe = try CLI.run(["probe", "--model", model, "--dataset", dataset, "--threads", "1", "-o", whole] + options)
        let unshardedSeconds = Date().timeIntervalSince(unshardedStart)
        XCTAssertEqual(probe.status, 0, probe.stderr)

        let merged = output.appendingPathComponent("run.h5").path
        let compare = try CLI.runProcess("/usr/bin/env", ["python3", CLI.packageRoot.appendingPathComponent("scripts/compare_runs.py").path,
                                                          whole, merged])
        XCTAssertEqual(compare.status, 0, compare.stdout + compare.stderr + logText)
        XCTAssertEqual(try RunReader(url: URL(fileURLWithPath: merged)).qk.map(\.bitPattern),
                       try RunReader(url: URL(fileURLWithPath: whole)).qk.map(\.bitPattern))
        print(String(format: "slurm array of 3 shards + merge: %.1f s from submission; unsharded run: %.1f s", arraySeconds, unshardedSeconds))
    }
}
