import Foundation
import Reports
import XCTest
@testable import Selection

final class HeadSelectionTests: XCTestCase {
    /// 1 layer x 2 heads, labels 0 1 0 1 on both sets.
    /// A: head 0 always right, head 1 always answers 0 (50%), the model right on rows 0 and 1 (50%).
    /// B: head 0 always answers 0 (chance, 50%), head 1 always right, the model always right.
    private func runs() throws -> (a: ProbeRun, b: ProbeRun) {
        let directory = try makeTemporaryDirectory(self)
        var a = HandBuiltRun(), b = HandBuiltRun()
        a.heads = 2
        b.heads = 2
        let labels = [0, 1, 0, 1]
        a.rows = labels.enumerated().map { n, label in
            HandBuiltRun.row(label: label, choices: [label, 0], model: n < 2 ? label : 1 - label, steps: 1 + n / 2, distractors: 0)
        }
        b.rows = labels.enumerated().map { n, label in
            HandBuiltRun.row(label: label, choices: [0, label], model: label, steps: 1 + n / 2, distractors: 2 * (n % 2))
        }
        return (try ProbeRun(contentsOf: a.write(to: directory.appendingPathComponent("A.h5")), name: "A.h5"),
                try ProbeRun(contentsOf: b.write(to: directory.appendingPathComponent("B.h5")), name: "B.h5"))
    }

    func testAHeadPerfectOnAIsAtChanceOnB() throws {
        let (a, b) = try runs()
        let selection = try HeadSelection(calibration: [a], test: [b], topK: 1)
        XCTAssertEqual(selection.sets.map(\.name), ["A.h5", "B.h5"])
        XCTAssertEqual(selection.sets.map(\.role), ["calibration", "test"])
        let choice = try XCTUnwrap(selection.choices.first)
        XCTAssertEqual(choice.heads.map(\.name), ["L0H0"])
        let onA = choice.results[0], onB = choice.results[1]
        XCTAssertEqual(onA.rules.map(\.rule), ["L0H0", "L0H0 calibrated", "majority_vote", "z_sum", "model"])
        XCTAssertEqual(onA.rules.map(\.accuracy), [1, 1, 1, 1, 0.5])
        XCTAssertEqual(onB.rules.map(\.accuracy), [0.5, 0.5, 0.5, 0.5, 1])
        XCTAssertEqual(onB.n, 4)
        XCTAssertEqual(onB.majorityClassAccuracy, 0.5)
        // L0H0 always answers option 0 on B: constant, balanced accuracy 1/2; the model is right
        // on the two rows it gets wrong and never the other way round.
        let head = try XCTUnwrap(onB.rule("L0H0"))
        XCTAssertTrue(head.constant)
        XCTAssertEqual(head.balancedAccuracy, 0.5)
        let ci95 = try XCTUnwrap(head.ci95)
        XCTAssertEqual(ci95[0] + ci95[1], 1, accuracy: 1e-12, "symmetric about 1/2")
        XCTAssertEqual(ci95[0], 0.15, accuracy: 0.001)
        XCTAssertEqual(head.vsModel?.onlyRule, 0)
        XCTAssertEqual(head.vsModel?.onlyModel, 2)
        XCTAssertEqual(head.vsModel?.p, 0.5)
        XCTAssertEqual(head.chanceP, 1, "a constant rule is right as often under every shuffle")
        XCTAssertNil(onB.rule("model")?.vsModel)
        XCTAssertEqual(onB.rule("L0H0")?.correct, 2)
        XCTAssertEqual(onB.rule("L0H0")?.count, 4)
        // Robustness: B by steps (rows 0-1 and 2-3) and by distractors (even rows 0, odd rows 2).
        XCTAssertEqual(onB.rule("L0H0")?.bySteps.map { [$0.value, $0.correct, $0.count] }, [[1, 1, 2], [2, 1, 2]])
        XCTAssertEqual(onB.rule("L0H0")?.byDistractors.map { [$0.value, $0.correct, $0.count] }, [[0, 2, 2], [2, 0, 2]])
        XCTAssertEqual(onB.rule("L0H0")?.byDistractors.map(\.accuracy), [1, 0])
        XCTAssertEqual(onA.rule("model")?.bySteps.map(\.accuracy), [1, 0])

        // Both as calibration sets: each picks its own head; the transfer table is 2 x 2.
        let both = try HeadSelection(calibration: [a, b], test: [], topK: 1)
        XCTAssertEqual(both.choices.map { $0.heads[0].name }, ["L0H0", "L0H1"])
        XCTAssertEqual(both.choices.map { $0.results.map { $0.rules[0].accuracy } }, [[1, 0.5], [0.5, 1]])
        let table = both.render(.table)
        let transfer = table.components(separatedBy: "\n\n").first { $0.hasPrefix("Transfer") } ?? ""
        let rows = transfer.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        XCTAssertEqual(rows.suffix(2), ["A.h5 100.0 / 100.0 / 100.0 / 50.0 50.0 / 50.0 / 50.0 / 100.0",
                                        "B.h5 50.0 / 50.0 / 50.0 / 50.0 100.0 / 100.0 / 100.0 / 100.0"], table)
    }

    func testTopTwoEnsemblesAndEqualAccuracyHeads() throws {
        let (a, b) = try runs()
        // Top 2 of A: L0H0 (100%) then L0H1 (50%).
        let selection = try HeadSelection(calibration: [a], test: [b], topK: 2)
        let onB = selection.choices[0].results[1]
        XCTAssertEqual(onB.rules.map(\.rule), ["L0H0", "L0H1", "L0H0 calibrated", "L0H1 calibrated", "majority_vote", "z_sum", "model"])
        // The two heads disagree on rows 1 and 3 of B; the vote follows the better head on A (L0H0).
        XCTAssertEqual(onB.rule("majority_vote")?.accuracy, 0.5)
        // z-sum: both heads score 0/1 with mean 0.5 and sd 0.5 on A, so the z-scores cancel where
        // they disagree and the first option wins: right on rows 0 and 2 only.
        XCTAssertEqual(onB.rule("z_sum")?.accuracy, 0.5)

        var hand = HandBuiltRun()
        hand.heads = 3
        hand.rows = [0, 1].map { HandBuiltRun.row(label: $0, choices: [$0, 1 - $0, $0], model: $0) }
        let tied = try ProbeRun(contentsOf: hand.write(to: makeTemporaryDirectory(self).appendingPathComponent("t.h5")))
        let ranked = try HeadSelection(calibration: [tied], test: [], topK: 2).choices[0].heads
        XCTAssertEqual(ranked.map(\.name), ["L0H0", "L0H2"], "equal accuracies keep layer-then-head order")
    }

    /// A head whose scores favour option 0 on every row, but by less when the answer is option 1:
    /// plain argmax always says option 0; the offset fitted on calibration rows reads the margin.
    func testTheCalibratedRuleUndoesAnOptionBiasFittedOnCalibrationRowsOnly() throws {
        func run(_ name: String, margins: [(label: Int, scores: [Float])]) throws -> ProbeRun {
            var hand = HandBuiltRun()
            hand.heads = 1
            hand.rows = margins.map { HandBuiltRun.Row(label: $0.label, scores: $0.scores.map { [$0] }, logits: [1, 0]) }
            return try ProbeRun(contentsOf: hand.write(to: makeTemporaryDirectory(self).appendingPathComponent(name)), name: name)
        }
        let calibration = try run("cal.h5", margins: [(0, [3, 1]), (0, [4, 1.5]), (1, [2, 1.5]), (1, [2.5, 2.4])])
        let test = try run("test.h5", margins: [(0, [5, 2]), (1, [1, 0.8]), (0, [2, 0]), (1, [3, 2.9])])
        let selection = try HeadSelection(calibration: [calibration], test: [test], topK: 1)
        let offsets = selection.choices[0].heads[0].optionOffsets
        // Calibration margins 2, 2.5 (label 0) and 0.5, 0.1 (label 1): the threshold is the midpoint 1.25.
        XCTAssertEqual(offsets, [0, 1.25])
        let onTest = selection.choices[0].results[1]
        XCTAssertEqual(onTest.rule("L0H0")?.accuracy, 0.5)
        XCTAssertEqual(onTest.rule("L0H0 calibrated")?.accuracy, 1)
        XCTAssertTrue(selection.render(.table).contains("with its option offsets 100.0%"), selection.render(.table))
    }

    func testArgumentsAreChecked() throws {
        let (a, b) = try runs()
        XCTAssertThrowsMessage(try HeadSelection(calibration: [a], test: [], topK: 0),
                               "A.h5: --top-k must be between 1 and the run's 2 heads, not 0")
        XCTAssertThrowsMessage(try HeadSelection(calibration: [a], test: [], topK: 3),
                               "A.h5: --top-k must be between 1 and the run's 2 heads, not 3")
        XCTAssertThrowsMessage(try HeadSelection(calibration: [a], test: [b, a], topK: 1), "A.h5: is given more than once")
        XCTAssertThrowsMessage(try HeadSelection(calibration: [], test: [b], topK: 1), "select: needs at least one calibration run")

        var unlabelled = HandBuiltRun()
        unlabelled.heads = 2
        unlabelled.rows = [HandBuiltRun.row(label: -1, choices: [0, 0], model: 0)]
        let empty = try ProbeRun(contentsOf: unlabelled.write(to: makeTemporaryDirectory(self).appendingPathComponent("u.h5")), name: "u.h5")
        XCTAssertThrowsMessage(try HeadSelection(calibration: [empty], test: [], topK: 1),
                               "u.h5: has no complete, labelled rows to rank heads on")
        // As a test set it is fine: its accuracies are empty.
        let result = try HeadSelection(calibration: [a], test: [empty], topK: 1).choices[0].results[1]
        XCTAssertEqual(result.rules.map(\.count), [0, 0, 0, 0, 0])
        XCTAssertEqual(result.rules.map(\.accuracy), [nil, nil, nil, nil, nil])
    }

    func testJSONRoundTripsAndOtherFormatsRender() throws {
        let (a, b) = try runs()
        let parts = try a.split(SplitSettings(fraction: 0.5, seed: 3))
        let selection = try HeadSelection(calibration: [parts.calibration], test: [parts.heldOut, b], topK: 2,
                                          split: SplitSettings(fraction: 0.5, seed: 3))
        let json = selection.render(.json)
        XCTAssertEqual(try HeadSelection.decode(from: Data(json.utf8)), selection)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(object["format"] as? String, "qkprobe-selection")
        XCTAssertEqual(object["format_version"] as? Int, 1)
        XCTAssertEqual(object["top_k"] as? Int, 2)
        XCTAssertEqual((object["split"] as? [String: Any])?["seed"] as? Int, 3)
        XCTAssertEqual(Set(object.keys), ["format", "format_version", "model_name", "model_sha256", "n_layers", "n_heads",
                                          "qk_rope", "qk_scale", "top_k", "split", "sets", "choices", "permutations", "permutation_seed"])

        let csv = selection.render(.csv).split(separator: "\n").map(String.init)
        XCTAssertEqual(csv[0], "calibration,set,rule,grouping,value,correct,count,accuracy")
        XCTAssertTrue(csv.contains("\"A.h5 [50% calibration, seed 3]\",B.h5,L0H0,distractors,2,0,2,0.0"), csv.joined(separator: "\n"))
        XCTAssertTrue(csv.contains("\"A.h5 [50% calibration, seed 3]\",B.h5,model,all,,4,4,1.0"), csv.joined(separator: "\n"))

        let markdown = selection.render(.markdown)
        XCTAssertTrue(markdown.contains("### Transfer: best head / majority vote / z-sum / model, accuracy in %"), markdown)
        XCTAssertTrue(markdown.contains("| rule | A.h5 [50% calibration, seed 3] | A.h5 [50% held out, seed 3] | B.h5 |"), markdown)
        let table = selection.render(.table)
        XCTAssertTrue(table.contains("By distractors on B.h5, heads of A.h5 [50% calibration, seed 3]"), table)
        XCTAssertTrue(table.hasPrefix("Top 2 heads by accuracy on each calibration set; model hand-built (sha256 abababababab…)"), table)
    }
}
