import Foundation
import XCTest

/// `ablate`, `scan` and `trace --dataset` as a user runs them, on the default model.
final class CausalCommandTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var samples: String { CLI.packageRoot.appendingPathComponent("datasets/logic-test.jsonl").path }

    /// The scan's scores through the command line equal transformers' on the same token ids.
    func testScanJSONMatchesTransformers() throws {
        let fixtureURL = CLI.packageRoot.appendingPathComponent("Tests/CausalTests/Fixtures/smollm2.json")
        let fixture = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL)) as? [String: Any])
        let scan = try XCTUnwrap(fixture["scan"] as? [String: Any])
        let sequences = directory.appendingPathComponent("sequences.json")
        try JSONSerialization.data(withJSONObject: try XCTUnwrap(scan["repeated_sequences"])).write(to: sequences)
        let output = directory.appendingPathComponent("induction.h5"), svg = directory.appendingPathComponent("induction.svg")
        let result = try CLI.run(["scan", "--kind", "induction", "--sequences", sequences.path, "--format", "json",
                                  "--output", output.path, "--svg", svg.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let scores = try XCTUnwrap(json["scores"] as? [[Double]])
        let expected = try XCTUnwrap(scan["induction"] as? [[Double]])
        XCTAssertEqual(scores.count, expected.count)
        for (ours, theirs) in zip(scores, expected) {
            XCTAssertEqual(ours.count, theirs.count)
            for (a, b) in zip(ours, theirs) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: output.path))
        XCTAssertTrue(try String(contentsOf: svg, encoding: .utf8).contains("induction scores"))
        // Refuses to overwrite without --force.
        let again = try CLI.run(["scan", "--kind", "induction", "--sequences", sequences.path, "--output", output.path])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("exists"), again.stderr)
    }

    func testScanRejectsBadSequenceFiles() throws {
        for (content, problem) in [("{}", "not a JSON list"), ("[]", "empty"), ("[[1, 2], [3.5]]", "sequence 1"),
                                   ("[[1, -2]]", "sequence 0"), ("[[1, 2, 3]]", "even count"), ("[[1, 99999999, 3, 4]]", "vocabulary")] {
            let file = directory.appendingPathComponent("bad.json")
            try Data(content.utf8).write(to: file)
            let result = try CLI.run(["scan", "--kind", "induction", "--sequences", file.path])
            XCTAssertNotEqual(result.status, 0, content)
            XCTAssertTrue(result.stderr.contains(problem), "\(content): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        }
    }

    func testAblateReportsCleanAblatedAndRandomDraws() throws {
        let output = directory.appendingPathComponent("ablation.h5")
        let result = try CLI.run(["ablate", "--dataset", samples, "--heads", "L3H0,L14H3", "--random-draws", "2", "--seed", "4",
                                  "--limit", "4", "--format", "json", "--output", output.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["heads"] as? [String], ["L3H0", "L14H3"])
        XCTAssertEqual(json["samples"] as? Int, 4)
        let perSample = try XCTUnwrap(json["per_sample"] as? [[String: Any]])
        XCTAssertEqual(perSample.count, 4)
        let random = try XCTUnwrap(json["random"] as? [[String: Any]])
        XCTAssertEqual(random.count, 2)
        for draw in random {
            let heads = try XCTUnwrap(draw["heads"] as? [String])
            XCTAssertEqual(heads.filter { $0.hasPrefix("L3H") }.count, 1)
            XCTAssertEqual(heads.filter { $0.hasPrefix("L14H") }.count, 1)
            XCTAssertFalse(heads.contains("L3H0") || heads.contains("L14H3"))
        }
        // The per-sample logit differences average to the reported mean.
        let clean = try XCTUnwrap(json["clean"] as? [String: Any])
        let differences = perSample.compactMap { $0["clean_logit_diff"] as? Double }
        XCTAssertEqual(differences.count, 4)
        XCTAssertEqual(try XCTUnwrap(clean["mean_logit_diff"] as? Double), differences.reduce(0, +) / 4, accuracy: 1e-9)
        XCTAssertTrue(FileManager.default.fileExists(atPath: output.path))

        let table = try CLI.run(["ablate", "--dataset", samples, "--heads", "L3H0", "--limit", "2", "--method", "query-zero"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("heads off"), table.stdout)
    }

    func testAblateRejectsBadHeads() throws {
        for (arguments, problem) in [(["--heads", "L3X5"], "not a head"), (["--heads", "L99H0"], "no head L99H0"),
                                     (["--heads", "L3H0,L3H0"], "twice"), (["--heads-from", "missing.json", "--top", "3"], "missing.json"),
                                     (["--heads-from", "x.json"], "--top")] {
            let result = try CLI.run(["ablate", "--dataset", samples, "--limit", "1"] + arguments)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertTrue(result.stderr.contains(problem), "\(arguments): \(result.stderr)")
        }
    }

    func testTraceDatasetWritesEveryRow() throws {
        let output = directory.appendingPathComponent("trace.h5")
        let result = try CLI.run(["trace", "--dataset", samples, "--limit", "3", "--hook", "blocks.2.attn.hook_rot_q",
                                  "--hook", "blocks.2.hook_resid_post", "--positions", "anchor,options,last", "--output", output.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("3 samples × 4 positions of 2 hooks"), result.stdout)
        let pattern = try CLI.run(["trace", "--dataset", samples, "--hook", "blocks.2.attn.hook_pattern", "--output", output.path, "--force"])
        XCTAssertNotEqual(pattern.status, 0)
        XCTAssertTrue(pattern.stderr.contains("trace it with --prompt"), pattern.stderr)
        let bad = try CLI.run(["trace", "--dataset", samples, "--hook", "hook_embed", "--positions", "anchor,middle", "--output", output.path, "--force"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("'middle'"), bad.stderr)
    }
}
