import Foundation
import XCTest

final class VerifyCommandTests: XCTestCase {
    private var directory: URL!
    private var run: String!

    /// Head 0 right on 3 of 4 rows, head 1 on all; the model on 2.
    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
        addTeardownBlock { [directory] in try? FileManager.default.removeItem(at: directory!) }
        run = directory.appendingPathComponent("R.h5").path
        try writeHandBuiltRun(to: URL(fileURLWithPath: run), labels: [0, 1, 0, 1],
                              choices: [[0, 0], [1, 1], [0, 0], [0, 1]], model: [0, 0, 0, 0])
    }

    private func expected(_ json: String) throws -> String {
        let url = directory.appendingPathComponent("expected-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        return url.path
    }

    func testPassingRunPrintsOneLine() throws {
        let file = try expected(#"{"heads": {"L0H0": 0.75, "L0H1": 0.99}, "claims": [{"best_head_beats_baseline_by": 0.5}]}"#)
        let result = try CLI.run(["verify", run, "--expected", file])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "\(run!): all 3 checks pass against \(file) (tolerance 0.02)\n")
        XCTAssertEqual(result.stderr, "")
    }

    /// The file `qkprobe heads --format json` writes is one `verify` reads; a changed cell fails.
    func testTheHeadTableOfHeadsFormatJSON() throws {
        let table = try CLI.run(["heads", run, "--format", "json"])
        XCTAssertEqual(table.status, 0, table.stderr)
        let file = try expected(table.stdout)
        let result = try CLI.run(["verify", run, "--expected", file, "--tolerance", "0"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "\(run!): all 24 checks pass against \(file) (tolerance 0.0)\n")

        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(table.stdout.utf8)) as? [String: Any])
        object["baseline"] = 0.6
        let changed = try expected(String(decoding: JSONSerialization.data(withJSONObject: object), as: UTF8.self))
        let failing = try CLI.run(["verify", run, "--expected", changed])
        XCTAssertEqual(failing.status, 1)
        XCTAssertEqual(failing.stdout, "model: expected 0.6000, actual 0.5000, tolerance 0.02\n")
    }

    func testFailingRunPrintsTheDiffAndExitsNonZero() throws {
        let file = try expected(#"{"baseline": 0.5, "heads": {"L0H0": 0.9}, "claims": [{"head": "L0H0", "beats_baseline_by": 0.3}]}"#)
        let result = try CLI.run(["verify", run, "--expected", file, "--tolerance", "0.1"])
        XCTAssertEqual(result.status, 1)
        // The claim (0.25 for 0.3) holds within the tolerance; the head (0.75 for 0.9) does not.
        XCTAssertEqual(result.stdout, "L0H0: expected 0.9000, actual 0.7500, tolerance 0.1\n")
        XCTAssertEqual(result.stderr, "Error: \(run!): 1 of 3 checks fail against \(file) (tolerance 0.1)\n")
    }

    func testBadExpectationsAndOtherModelsAreOneLineErrors() throws {
        let cases: [(String, String)] = [
            (#"{"heads": {"L0H0": 0.5"#, "malformed JSON at line 1, column 23: unexpected end of input"),
            (#"{"heads": {"L99H0": 0.5}}"#, "head L99H0 is not in \(run!) (1 layers x 2 heads)"),
            (#"{"heads": {"L0H0": 0.5}, "tolerance": 0.1}"#, "unknown key \"tolerance\" (expected one of: model_sha256, baseline, heads, claims)"),
        ]
        for (json, problem) in cases {
            let file = try expected(json)
            let result = try CLI.run(["verify", run, "--expected", file])
            XCTAssertNotEqual(result.status, 0, json)
            XCTAssertEqual(result.stdout, "", json)
            XCTAssertTrue(result.stderr.hasPrefix("Error: \(file): \(problem)"), result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        }
        let otherModel = try expected(#"{"model_sha256": "cdcd", "baseline": 0.5}"#)
        let refused = try CLI.run(["verify", run, "--expected", otherModel])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertEqual(refused.stderr, "Error: \(run!): made with model_sha256 abababababab… but \(otherModel) is about "
            + "model_sha256 cdcd; head results of different models cannot be compared\n")
        let negative = try CLI.run(["verify", run, "--expected", otherModel, "--tolerance=-1"])
        XCTAssertTrue(negative.stderr.hasPrefix("Error: --tolerance must be a number of at least 0, not -1.0\n"), negative.stderr)
    }
}
