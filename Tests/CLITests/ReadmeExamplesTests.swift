import Foundation
import Pipeline
import Selection
import XCTest

/// The README's examples, run as written on the default model: the step-by-step probe (both
/// bundled sets, heads, select, a public benchmark file where one is at hand), `verify` with the
/// README's expected.json, and the README's two Swift examples, whose statements are the ones
/// below (the probe from Swift resumes the finished test run, so it computes nothing again).
final class ReadmeExamplesTests: XCTestCase {
    private var directory: URL!
    private var readme: String!

    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
        readme = try String(contentsOf: CLI.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The body of the fenced block of `language` that holds `marker`.
    private func block(_ language: String, holding marker: String) throws -> String {
        let at = try XCTUnwrap(readme.range(of: marker), "the README has no \(marker)")
        let open = try XCTUnwrap(readme.range(of: "```\(language)\n", options: .backwards, range: readme.startIndex..<at.lowerBound))
        let close = try XCTUnwrap(readme.range(of: "\n```", range: open.upperBound..<readme.endIndex))
        XCTAssertLessThan(at.lowerBound, close.lowerBound, "\(marker) is not inside a \(language) block")
        return String(readme[open.upperBound..<close.lowerBound])
    }

    /// The body of the first fenced block of `language` after `marker` in the README.
    private func block(_ language: String, after marker: String) throws -> String {
        let start = try XCTUnwrap(readme.range(of: marker), "the README has no \(marker)")
        let open = try XCTUnwrap(readme.range(of: "```\(language)\n", range: start.upperBound..<readme.endIndex))
        let close = try XCTUnwrap(readme.range(of: "\n```", range: open.upperBound..<readme.endIndex))
        return String(readme[open.upperBound..<close.lowerBound])
    }

    func testTheStepByStepProbeVerifyAndSwiftExamplesRunAsWritten() throws {
        // The commands run in a folder of their own that sees the repository's datasets (and the
        // public benchmark files, where present) under the names the README uses.
        let files = FileManager.default
        try files.createSymbolicLink(at: directory.appendingPathComponent("datasets"),
                                     withDestinationURL: CLI.packageRoot.appendingPathComponent("datasets"))
        var script = try block("sh", after: "### A probe, step by step")
        let publicData = ProcessInfo.processInfo.environment["QKPROBE_PUBLIC_DATA"].map { URL(fileURLWithPath: $0, relativeTo: CLI.packageRoot) }
            ?? CLI.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/datasets-public")
        if files.fileExists(atPath: publicData.appendingPathComponent("pararule-plus").path) {
            try files.createSymbolicLink(at: directory.appendingPathComponent("pararule-plus"),
                                         withDestinationURL: publicData.appendingPathComponent("pararule-plus"))
        } else {
            script = script.split(separator: "\n").filter { !$0.contains("pararule-plus/") }.joined(separator: "\n")
            print("README test: the public benchmark files are absent; the PARARULE-Plus line is left out")
        }
        XCTAssertTrue(script.contains("q=.build/release/qkprobe"), script)
        script = script.replacingOccurrences(of: "q=.build/release/qkprobe", with: "q='\(CLI.executable.path)'")
        let expected = try block("json", after: "`expected.json` is either")
        try Data(expected.utf8).write(to: directory.appendingPathComponent("expected.json"))

        let result = try CLI.runProcess("/bin/bash", ["-euo", "pipefail", "-c", "cd '\(directory.path)' && " + script])
        XCTAssertEqual(result.status, 0, String(result.stdout.suffix(2000)) + String(result.stderr.suffix(2000)))
        let verify = try CLI.run(["verify", directory.appendingPathComponent("out/calibration.h5").path,
                                  "--expected", directory.appendingPathComponent("expected.json").path])
        XCTAssertEqual(verify.status, 0, "the README's expected.json does not hold: " + verify.stdout + verify.stderr)

        // The README's Swift examples, statement for statement, in the folder the commands ran in.
        let here = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        for marker in ["import Pipeline\n", "final class FindingsTests"] {
            let statements = try block("swift", holding: marker).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("//") && !$0.hasPrefix("import ") && !$0.hasPrefix("final class")
                    && !$0.hasPrefix("func ") && $0 != "}" }
                .map { $0.components(separatedBy: "   //")[0].trimmingCharacters(in: .whitespaces) }
            XCTAssertFalse(statements.isEmpty, marker)
            for statement in statements {
                XCTAssertTrue(here.contains(statement), "the README's Swift example has a line this test does not run: \(statement)")
            }
        }
        let previous = files.currentDirectoryPath
        XCTAssertTrue(files.changeCurrentDirectoryPath(directory.path))
        defer { _ = files.changeCurrentDirectoryPath(previous) }
        let computed = try readmeProbeFromSwift()
        XCTAssertEqual(computed, 0, "the Swift probe resumes the finished out/test.h5")
        try readmeFindingsTest()
    }

    /// The README's "Probing from Swift" example, unchanged but for returning what it computed.
    private func readmeProbeFromSwift() throws -> Int {
        let model = try LoadedModel(path: nil)
        let probe = try ProbePipeline(model: model, dataset: URL(fileURLWithPath: "datasets/logic-test.jsonl"),
                                      settings: ProbeSettings(rope: .pre, saveActivations: false))
        let outcome = try probe.run(output: URL(fileURLWithPath: "out/test.h5"), ifExists: .resume) { progress in
            print("\(progress.complete)/\(progress.total)")
        }
        print(outcome.report.render(.table, top: 5))
        return outcome.computed
    }

    /// The body of the README's `testTheBestHeadIsNoFinding`, unchanged.
    private func readmeFindingsTest() throws {
        let run = try ProbeRun(contentsOf: URL(fileURLWithPath: "out/calibration.h5"))
        let best = run.bestHeads(3)
        XCTAssertEqual(best.first?.name, "L25H6")
        XCTAssertLessThan(try run.accuracy(of: "L25H6"), run.baselineAccuracy + 0.10)
        XCTAssertNoThrow(try run.verify(expected: URL(fileURLWithPath: "expected.json"), tolerance: 0.02))
    }
}
