import Foundation
import Reports
import RunStore
import XCTest
@testable import Selection

final class VerificationTests: XCTestCase {
    private var directory: URL!
    private var runURL: URL!
    /// ProbeRunTests.threeHeads: L0H0 75%, L0H1 75%, L0H2 100%, model 50%; steps 1 1 2 2,
    /// distractors 0 3 0 3.
    private var run: ProbeRun!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory(self)
        runURL = try ProbeRunTests.threeHeads().write(to: directory.appendingPathComponent("R.h5"))
        run = try ProbeRun(contentsOf: runURL, name: "R.h5")
    }

    private func expectation(_ json: String) throws -> Expectation {
        try Expectation(json: Data(json.utf8), source: "expected.json")
    }

    /// The file `qkprobe heads --format json` writes, for this run.
    private func headTable() throws -> HeadTableDocument {
        try HeadTableDocument.decode(from: Data(HeadReport(run: RunReader(url: runURL)).render(.json, top: 3).utf8))
    }

    private func tableExpectation(_ table: HeadTableDocument) throws -> Expectation {
        let encoder = JSONEncoder()
        return try Expectation(json: encoder.encode(table), source: "table.json")
    }

    func testAWholeHeadTablePassesAgainstItsOwnRun() throws {
        let verification = try run.check(tableExpectation(headTable()), tolerance: 0)
        // labelled count, model, 3 heads; then per group (2 steps, 2 distractors) count, model, 3 heads.
        XCTAssertEqual(verification.checks.count, 5 + 4 * 5)
        XCTAssertTrue(verification.passed, verification.diff)
        XCTAssertEqual(verification.summary, "R.h5: all 25 checks pass against table.json (tolerance 0.0)")
        // Through a file, as the API is used in tests.
        let url = directory.appendingPathComponent("table.json")
        try Data(HeadReport(run: RunReader(url: runURL)).render(.json, top: 3).utf8).write(to: url)
        XCTAssertNoThrow(try run.verify(expected: url))
    }

    func testAHeadTableThatDiffersGivesOneLinePerFailingCheck() throws {
        var table = try headTable()
        table.accuracy[0][1] = 0.85
        table.bySteps[1].accuracy[0][2] = 0.5
        table.byDistractors.removeLast()
        let verification = try run.check(tableExpectation(table), tolerance: 0.05)
        XCTAssertFalse(verification.passed)
        XCTAssertEqual(verification.failures.map(\.line), [
            "L0H1: expected 0.8500, actual 0.7500, tolerance 0.05",
            "L0H2 steps=2: expected 0.5000, actual 1.0000, tolerance 0.05",
            "distractors=3 samples: expected 0, actual 2",
        ])
        XCTAssertEqual(verification.summary, "R.h5: 3 of 21 checks fail against table.json (tolerance 0.05)")
        // A tolerance that covers the differences lets accuracies pass but not sample counts.
        XCTAssertEqual(try run.check(tableExpectation(table), tolerance: 0.5).failures.map(\.subject), ["distractors=3 samples"])
    }

    func testAHeadTableOfAnotherModelOrLayoutIsRefused() throws {
        var table = try headTable()
        table.modelSHA256 = String(repeating: "cd", count: 32)
        XCTAssertThrowsMessage(try run.check(tableExpectation(table)),
                               "R.h5: made with model_sha256 abababababab… but table.json is about model_sha256 cdcdcdcdcdcd…; "
                                   + "head results of different models cannot be compared")
        table = try headTable()
        table.heads = 2
        table.accuracy = table.accuracy.map { Array($0.prefix(2)) }
        table.bySteps = []
        table.byDistractors = []
        XCTAssertThrowsMessage(try run.check(tableExpectation(table)),
                               "table.json: a table of 1 layers x 2 heads, but R.h5 has 1 x 3")
        table = try headTable()
        table.accuracy = [[0.5, 0.5]]
        XCTAssertThrowsMessage(try tableExpectation(table),
                               "table.json: accuracy is not 1 layers x 3 heads, as the table's layers and heads say")
        table = try headTable()
        table.qkRope = "post"
        XCTAssertThrowsMessage(try run.check(tableExpectation(table)),
                               "table.json: scores q/k post-rotary scaled by none, but R.h5 pre-rotary scaled by none")
    }

    func testNamedHeadsAndBaseline() throws {
        let pass = try run.check(expectation(#"{"model_sha256": "\#(run.header.modelSHA256)", "baseline": 0.5, "heads": {"L0H2": 1, "L0H0": 0.76}}"#))
        XCTAssertTrue(pass.passed, pass.diff)
        XCTAssertEqual(pass.checks.map(\.subject), ["model", "L0H2", "L0H0"])
        let fail = try run.check(expectation(#"{"baseline": 0.4, "heads": {"L0H0": 0.8, "L0H1": 0.78}}"#), tolerance: 0.03)
        XCTAssertEqual(fail.diff, """
            model: expected 0.4000, actual 0.5000, tolerance 0.03
            L0H0: expected 0.8000, actual 0.7500, tolerance 0.03
            """)
        // Exactly at the tolerance passes, despite float rounding.
        XCTAssertTrue(try run.check(expectation(#"{"heads": {"L0H0": 0.77}}"#), tolerance: 0.02).passed)
        XCTAssertTrue(try run.check(expectation(#"{"heads": {"L0H0": 0.73}}"#), tolerance: 0.02).passed)
        XCTAssertFalse(try run.check(expectation(#"{"heads": {"L0H0": 0.7701}}"#), tolerance: 0.02).passed)
    }

    func testClaims() throws {
        let verification = try run.check(expectation("""
            {"claims": [
              {"best_head_beats_baseline_by": 0.5},
              {"best_head_beats_baseline_by": 0.6},
              {"best_head_at_least": 0.99, "distractors": 3},
              {"head": "L0H0", "at_least": 0.7},
              {"head": "L0H1", "at_most": 0.7},
              {"head": "L0H1", "beats_baseline_by": 0.25},
              {"head": "L0H1", "in_top": 2},
              {"head": "L0H0", "in_top": 1},
              {"head": "L0H0", "at_least": 1, "steps": 1},
              {"head": "L0H0", "at_least": 1, "steps": 2}
            ]}
            """))
        XCTAssertEqual(verification.checks.count, 10)
        XCTAssertEqual(verification.failures.map(\.line), [
            "claims[1]: best head (L0H2) beats model by: expected >= 0.6000, actual 0.5000 (1.0000 vs model 0.5000), tolerance 0.02",
            "claims[4]: L0H1 at most: expected <= 0.7000, actual 0.7500, tolerance 0.02",
            "claims[7]: L0H0 in top 1: expected >= 1.0000 (the 1st best head), actual 0.7500 (rank 2), tolerance 0.02",
            "claims[9]: L0H0 at least, steps=2: expected >= 1.0000, actual 0.5000, tolerance 0.02",
        ])
        XCTAssertThrowsMessage(try run.check(expectation(#"{"claims": [{"head": "L0H0", "at_least": 0.5, "distractors": 7}]}"#)),
                               "expected.json: claims[0]: R.h5 has no labelled samples with distractors=7 (it has 0, 3)")
    }

    /// Significance claims: L0H2 is right on all 4 rows, the model on 2 of them, so McNemar's p
    /// is 2 · (1/2)^2 = 0.5; with 4 rows no head can beat chance after selection.
    func testSignificanceClaimsUseMcNemarAndThePermutationTest() throws {
        let passing = try run.check(expectation(#"{"claims": [{"head": "L0H2", "beats_model": {"p_below": 0.51}}]}"#))
        XCTAssertTrue(passing.passed, passing.diff)
        let failing = try run.check(expectation(#"""
            {"claims": [{"head": "L0H2", "beats_model": {"p_below": 0.05}},
                        {"best_head_beats_chance": {"p_below": 0.05}},
                        {"head": "L0H0", "beats_chance": {"p_below": 0.05}, "steps": 1}]}
            """#))
        XCTAssertEqual(failing.failures.count, 3, failing.diff)
        XCTAssertEqual(failing.failures[0].line,
                       "claims[0]: L0H2 beats model: expected more accurate, McNemar p < 0.05, actual 1.0000 vs model 0.5000, p = 0.50")
        XCTAssertTrue(failing.failures[1].line.hasPrefix(
            "claims[1]: best head (L0H2) beats chance: expected family-wise p < 0.05 (1000 label permutations, seed 0), actual 1.0000, p = "),
            failing.failures[1].line)
        XCTAssertTrue(failing.failures[2].subject.hasSuffix("beats chance, steps=1"), failing.failures[2].line)
        XCTAssertThrowsMessage(try expectation(#"{"claims": [{"head": "L0H2", "beats_model": 0.05}]}"#),
                               "expected.json: claims[0].beats_model: expected {\"p_below\": P}, found a number")
        XCTAssertThrowsMessage(try expectation(#"{"claims": [{"head": "L0H2", "beats_model": {"p_below": 0}}]}"#),
                               "expected.json: claims[0].beats_model.p_below must lie in (0, 1], not 0.0")
    }

    func testMalformedExpectationsAreOneLineErrors() throws {
        let cases: [(String, String)] = [
            (#"{"heads": {"L0H0": 0.5,}}"#, "expected.json: malformed JSON at line 1, column 24: "),
            ("[1, 2]", "expected.json: expected a JSON object, found an array"),
            ("{}", "expected.json: expects nothing: give a head table (qkprobe heads --format json), \"baseline\", \"heads\" or \"claims\""),
            (#"{"head": {"L0H0": 0.5}}"#, "expected.json: unknown key \"head\" (expected one of: model_sha256, baseline, heads, claims)"),
            (#"{"heads": {"foo": 0.5}}"#, "expected.json: heads: \"foo\" is not a head name (write L<layer>H<head>, e.g. L14H3)"),
            (#"{"heads": {"L0H0": 1.5}}"#, "expected.json: heads.L0H0: an accuracy is a fraction between 0 and 1, not 1.5"),
            (#"{"heads": {"L0H0": "0.5"}}"#, "expected.json: heads.L0H0: expected a number, found a string"),
            (#"{"heads": [0.5]}"#, "expected.json: heads: expected an object of head names and accuracies, found an array"),
            (#"{"baseline": true}"#, "expected.json: baseline: expected a number, found a boolean"),
            (#"{"claims": {"at_least": 1}}"#, "expected.json: claims: expected an array, found an object"),
            (#"{"claims": [{"head": "L0H0", "at_leats": 0.5}]}"#,
             "expected.json: unknown key \"claims[0].at_leats\" (expected one of: head, steps, distractors, best_head_beats_baseline_by, best_head_at_least, best_head_beats_model, best_head_beats_chance, at_least, at_most, beats_baseline_by, in_top, beats_model, beats_chance)"),
            (#"{"claims": [{"head": "L0H0"}]}"#,
             "expected.json: claims[0]: states no comparison (one of best_head_beats_baseline_by, best_head_at_least, best_head_beats_model, best_head_beats_chance, at_least, at_most, beats_baseline_by, in_top, beats_model, beats_chance)"),
            (#"{"claims": [{"head": "L0H0", "at_least": 0.5, "at_most": 0.9}]}"#,
             "expected.json: claims[0]: states 2 comparisons (at_least, at_most); give one per claim"),
            (#"{"claims": [{"at_least": 0.5}]}"#, "expected.json: claims[0]: at_least needs a \"head\" (e.g. \"L14H3\")"),
            (#"{"claims": [{"head": "L0H0", "best_head_at_least": 0.5}]}"#,
             "expected.json: claims[0]: best_head_at_least is about the best head: drop \"head\" or use at_least"),
            (#"{"claims": [{"head": "L0H0", "in_top": 1.5}]}"#,
             "expected.json: claims[0]: in_top must be a whole number of heads, at least 1, not 1.5"),
            (#"{"claims": [{"head": "L0H0", "at_least": 0.5, "steps": 1, "distractors": 0}]}"#,
             "expected.json: claims[0]: give steps or distractors, not both"),
            (#"{"claims": [{"head": "L0H0", "at_least": 0.5, "steps": -1}]}"#,
             "expected.json: claims[0].steps: expected a whole number of at least 0"),
            (#"{"accuracy": [[0.5]], "extra": 1}"#,
             "expected.json: unknown key \"extra\" (expected one of: \(Expectation.tableKeys.joined(separator: ", ")))"),
            (#"{"accuracy": [[0.5]]}"#,
             "expected.json: not a head table as qkprobe heads --format json writes it: missing key \"model_name\""),
        ]
        for (json, message) in cases {
            XCTAssertThrowsError(try expectation(json), json) { error in
                let text = "\(error)"
                XCTAssertTrue(message.hasSuffix(": ") ? text.hasPrefix(message) : text == message, "\(json)\n\(text)")
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
        // Well-formed names of heads the run does not have are refused when checked.
        XCTAssertThrowsMessage(try run.check(expectation(#"{"heads": {"L99H0": 0.5}}"#)),
                               "expected.json: head L99H0 is not in R.h5 (1 layers x 3 heads)")
        XCTAssertThrowsMessage(try run.check(expectation(#"{"claims": [{"head": "L0H3", "in_top": 1}]}"#)),
                               "expected.json: head L0H3 is not in R.h5 (1 layers x 3 heads)")
        XCTAssertThrowsMessage(try Expectation(contentsOf: directory.appendingPathComponent("none.json"), name: "none.json"),
                               "none.json: no such file")
    }

    func testModelMismatchAndUnfinishedRunsAreRefused() throws {
        XCTAssertThrowsMessage(try run.check(expectation(#"{"model_sha256": "1234", "baseline": 0.5}"#)),
                               "R.h5: made with model_sha256 abababababab… but expected.json is about model_sha256 1234; "
                                   + "head results of different models cannot be compared")
        var hand = ProbeRunTests.threeHeads()
        hand.rows[2].complete = false
        let partial = try ProbeRun(contentsOf: hand.write(to: directory.appendingPathComponent("P.h5")), name: "P.h5")
        XCTAssertThrowsMessage(try partial.check(expectation(#"{"baseline": 0.5}"#)),
                               "P.h5: 1 of 4 rows are unfinished; finish the run (qkprobe probe --resume) before verifying it")
    }

    func testVerifyThrowsTheDiff() throws {
        let url = directory.appendingPathComponent("claims.json")
        try Data(#"{"claims": [{"head": "L0H1", "at_least": 0.9}]}"#.utf8).write(to: url)
        XCTAssertThrowsError(try run.verify(expected: url)) { error in
            let failure = error as? VerificationFailure
            XCTAssertEqual(failure?.verification.failures.count, 1)
            XCTAssertEqual("\(error)", "R.h5: 1 of 1 checks fail against \(url.path) (tolerance 0.02)\n"
                + "claims[0]: L0H1 at least: expected >= 0.9000, actual 0.7500, tolerance 0.02")
        }
    }
}
