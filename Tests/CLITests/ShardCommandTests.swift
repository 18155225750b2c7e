import Foundation
import ModelFormats
import RunStore
import XCTest

/// `probe --shard I/N` and `merge` end to end on the default model.
final class ShardCommandTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var calibrationSet: String { CLI.packageRoot.appendingPathComponent("datasets/logic-calibration.jsonl").path }
    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func compareRuns(_ a: String, _ b: String) throws -> CLIResult {
        try CLI.runProcess("/usr/bin/env", ["python3", CLI.packageRoot.appendingPathComponent("scripts/compare_runs.py").path, a, b])
    }

    /// Three shards (one killed and resumed) merged equal the unsharded run with the same thread
    /// count in every dataset, head tables included; merge refuses the usual mistakes.
    func testMergedShardsEqualTheUnshardedRunBitForBit() throws {
        let common = ["probe", "--dataset", calibrationSet, "--limit", "13", "--threads", "2", "--save-activations"]
        let whole = try CLI.run(common + ["-o", path("whole.h5")])
        XCTAssertEqual(whole.status, 0, whole.stderr)

        // Shard 2 is killed once mid-run (wherever the kill lands) and resumed.
        let killed = try CLI.start(common + ["--shard", "2/3", "-o", path("s2.h5")])
        Thread.sleep(forTimeInterval: Double.random(in: 0.5...2.0))
        kill(killed.processIdentifier, SIGKILL)
        killed.waitUntilExit()
        for index in 1...3 {
            let shard = try CLI.run(common + ["--shard", "\(index)/3", "-o", path("s\(index).h5")] + (index == 2 ? ["--resume"] : []))
            XCTAssertEqual(shard.status, 0, shard.stderr)
        }
        do {
            let second = try RunReader(url: URL(fileURLWithPath: path("s2.h5")))
            XCTAssertEqual(second.shard?.rows, [1, 4, 7, 10])
            XCTAssertEqual(second.shard?.totalRows, 13)
            XCTAssertEqual(second.shard?.datasetRows, 1200)
        }
        let wrongShard = try CLI.run(common + ["--shard", "3/3", "-o", path("s2.h5"), "--resume"])
        XCTAssertNotEqual(wrongShard.status, 0)
        XCTAssertTrue(wrongShard.stderr.contains("shard 2/3"), wrongShard.stderr)

        let merge = try CLI.run(["merge", path("s3.h5"), path("s1.h5"), path("s2.h5"), "-o", path("merged.h5")])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertTrue(merge.stdout.contains("13 rows from 3 shards"), merge.stdout)
        let compare = try compareRuns(path("whole.h5"), path("merged.h5"))
        XCTAssertEqual(compare.status, 0, compare.stdout + compare.stderr)
        let (a, b) = (try RunReader(url: URL(fileURLWithPath: path("whole.h5"))), try RunReader(url: URL(fileURLWithPath: path("merged.h5"))))
        XCTAssertEqual(b.qk.map(\.bitPattern), a.qk.map(\.bitPattern))
        XCTAssertEqual(b.headTables?.accuracy.map(\.bitPattern), a.headTables?.accuracy.map(\.bitPattern))
        let check = try CLI.runProcess("/usr/bin/env", ["python3", CLI.packageRoot.appendingPathComponent("scripts/check_runfile.py").path,
                                                        path("merged.h5"), path("s1.h5")])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)

        for (arguments, file, words) in [
            (["merge", path("s1.h5"), path("s3.h5"), "-o", path("bad.h5")], path("bad.h5"), ["missing: shard 2/3"]),
            (["merge", path("s1.h5"), path("s2.h5"), path("s3.h5"), "-o", path("s1.h5")], path("s1.h5"), ["one of the shards"]),
            (["merge", path("s1.h5"), path("s2.h5"), path("whole.h5"), "-o", path("bad.h5")], path("whole.h5"), ["not a shard"]),
            (["merge", path("s1.h5"), path("s2.h5"), path("s3.h5"), "-o", path("merged.h5")], path("merged.h5"), ["already exists"]),
        ] {
            let refused = try CLI.run(arguments)
            XCTAssertNotEqual(refused.status, 0)
            let message = refused.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(message.split(separator: "\n").count, 1, message)
            XCTAssertTrue(message.contains(file), message)
            for word in words { XCTAssertTrue(message.contains(word), message) }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.h5")))
        let other = try CLI.run(["probe", "--dataset", calibrationSet, "--limit", "13", "--threads", "1", "--shard", "2/3", "-o", path("t1.h5")])
        XCTAssertEqual(other.status, 0, other.stderr)
        let threads = try CLI.run(["merge", path("s1.h5"), path("t1.h5"), path("s3.h5"), "-o", path("bad.h5")])
        XCTAssertTrue(threads.stderr.contains(path("t1.h5")) && threads.stderr.contains("threads 1"), threads.stderr)
    }

    func testShardRequestsAreCheckedBeforeAnythingIsWritten() throws {
        for (shard, words) in [("0/3", "I/N"), ("4/3", "I/N"), ("x", "I/N"), ("3/20", "at most 13 shards")] {
            let result = try CLI.run(["probe", "--dataset", calibrationSet, "--limit", "13", "--shard", shard, "-o", path("s.h5")])
            XCTAssertNotEqual(result.status, 0)
            XCTAssertTrue(result.stderr.contains(words), result.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("s.h5")))
    }

    /// Kills `qkprobe merge` at random moments: the output name never holds a half-built file,
    /// and the merge run again afterwards completes (over the stale temporary file).
    func testKilledMergeLeavesNoFileUnderTheOutputName() throws {
        // Shards big enough (40 MB in all) that a merge takes a while: SmolLM2's sizes, activations saved.
        let header = RunHeader(
            toolVersion: "0.1.0-test", modelName: "synthetic", modelPath: "/models/x.gguf", modelSHA256: String(repeating: "ab", count: 32),
            architecture: "llama", nLayers: 30, nHeads: 9, nKVHeads: 3, dHead: 64, datasetName: "synthetic",
            datasetSHA256: String(repeating: "cd", count: 32), template: "{question}", qkRope: .pre, qkScale: 1, threads: 1)
        let whole = RunSpec(header: header, options: [" True", " False"],
                            samples: (0..<240).map { SampleInfo(id: "s\($0)", label: $0 % 2, steps: $0 % 4, distractors: $0 % 3, tokenIDs: [1, 2, 3], anchor: 1) },
                            saveActivations: true)
        var shards: [String] = []
        for index in 1...3 {
            let shard = try RunShard(shard: Shard(index: index, count: 3), totalRows: 240, datasetRows: 240)
            var spec = whole
            spec.samples = shard.rows.map { whole.samples[$0] }
            spec.shard = shard
            let url = directory.appendingPathComponent("big-\(index).h5")
            let run = try RunFile.open(at: url, spec: spec, ifExists: .refuse)
            let shape = run.shape
            for (local, row) in shard.rows.enumerated() {
                let value = Float(row)
                try run.write(row: local, qk: Array(repeating: value, count: shape.scoresPerSample), modelLogits: [value, -value],
                              queries: Array(repeating: value, count: shape.queriesPerSample), keys: Array(repeating: value, count: shape.keysPerSample))
            }
            try run.close()
            shards.append(url.path)
        }
        let output = path("merged.h5")
        var outcomes: [String] = []
        for _ in 0..<4 {
            let merge = try CLI.start(["merge"] + shards + ["-o", output])
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.6))
            kill(merge.processIdentifier, SIGKILL)
            merge.waitUntilExit()
            if FileManager.default.fileExists(atPath: output) {
                // The kill came after the rename: the file must be the whole merged run.
                let run = try RunReader(url: URL(fileURLWithPath: output))
                XCTAssertEqual(run.complete, Array(repeating: true, count: 240))
                XCTAssertNotNil(run.headTables)
                outcomes.append("done")
                try FileManager.default.removeItem(atPath: output)
            } else {
                outcomes.append(FileManager.default.fileExists(atPath: output + ShardMerge.temporarySuffix) ? "killed mid-merge" : "killed before building")
            }
        }
        print("killed merges: \(outcomes)")
        let finish = try CLI.run(["merge"] + shards + ["-o", output])
        XCTAssertEqual(finish.status, 0, finish.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output + ShardMerge.temporarySuffix))
        let run = try RunReader(url: URL(fileURLWithPath: output))
        XCTAssertEqual(run.modelLogits.enumerated().filter { $0.offset % 2 == 0 }.map(\.element), (0..<240).map(Float.init))
        XCTAssertEqual(try run.queries(sample: 239).first, 239)
    }
}
