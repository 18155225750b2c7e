import Foundation
import Probe
import XCTest
@testable import Selection

final class ProbeRunTests: XCTestCase {
    /// 1 layer x 3 heads, labels 0 1 0 1. Head 0 is right 3 times, head 1 three times, head 2
    /// always; the model (always option 0) twice.
    static func threeHeads() -> HandBuiltRun {
        var run = HandBuiltRun()
        run.rows = [
            HandBuiltRun.row(label: 0, choices: [0, 1, 0], model: 0, steps: 1, distractors: 0),
            HandBuiltRun.row(label: 1, choices: [1, 1, 1], model: 0, steps: 1, distractors: 3),
            HandBuiltRun.row(label: 0, choices: [0, 0, 0], model: 0, steps: 2, distractors: 0),
            HandBuiltRun.row(label: 1, choices: [0, 1, 1], model: 0, steps: 2, distractors: 3),
        ]
        return run
    }

    func testHeadNames() {
        XCTAssertEqual(HeadID(name: "L14H3"), HeadID(layer: 14, head: 3))
        XCTAssertEqual(HeadID(name: "L0H0")?.name, "L0H0")
        for bad in ["", "L14", "H3", "LH3", "L14H", "l14h3", "L-1H3", "L+1H3", "L14H3x", "L1H2H3", " L1H2", "L9999999999H0"] {
            XCTAssertNil(HeadID(name: bad), bad)
        }
    }

    func testAccuracyBaselineAndBestHeadsWithTies() throws {
        let directory = try makeTemporaryDirectory(self)
        let run = try ProbeRun(contentsOf: Self.threeHeads().write(to: directory.appendingPathComponent("r.h5")), name: "r.h5")
        XCTAssertEqual(run.labelledCount, 4)
        XCTAssertEqual(run.baselineAccuracy, 0.5)
        XCTAssertEqual(try run.accuracy(of: "L0H0"), 0.75)
        XCTAssertEqual(try run.accuracy(of: "L0H2"), 1)
        // L0H0 and L0H1 tie at 75%: layer-then-head order decides.
        XCTAssertEqual(run.bestHeads(3), [RankedHead(id: HeadID(layer: 0, head: 2), accuracy: 1),
                                          RankedHead(id: HeadID(layer: 0, head: 0), accuracy: 0.75),
                                          RankedHead(id: HeadID(layer: 0, head: 1), accuracy: 0.75)])
        XCTAssertEqual(run.bestHeads(10).count, 3)
        XCTAssertThrowsMessage(try run.accuracy(of: "L0H3"), "r.h5: head L0H3 is not in r.h5 (1 layers x 3 heads)")
        XCTAssertThrowsMessage(try run.accuracy(of: "L1H0"), "r.h5: head L1H0 is not in r.h5 (1 layers x 3 heads)")
        XCTAssertThrowsMessage(try run.accuracy(of: "head 2"), "r.h5: \"head 2\" is not a head name (write L<layer>H<head>, e.g. L14H3)")
    }

    /// Equal scores for both options: the head (and the model, on equal logits) answers the first.
    func testEqualOptionScoresChooseTheFirstOption() throws {
        var hand = HandBuiltRun()
        hand.heads = 1
        hand.rows = [0, 1, 0].map { HandBuiltRun.Row(label: $0, scores: [[0.5], [0.5]], logits: [2, 2]) }
        let run = try ProbeRun(contentsOf: hand.write(to: makeTemporaryDirectory(self).appendingPathComponent("tie.h5")))
        XCTAssertEqual(try run.accuracy(of: "L0H0"), 2.0 / 3, accuracy: 1e-6)
        XCTAssertEqual(run.baselineAccuracy, 2.0 / 3, accuracy: 1e-6)
    }

    func testUnlabelledAndUnfinishedRowsDoNotCount() throws {
        var hand = Self.threeHeads()
        hand.rows.append(HandBuiltRun.row(label: -1, choices: [0, 0, 0], model: 1))
        var unfinished = HandBuiltRun.row(label: 0, choices: [1, 1, 1], model: 1)
        unfinished.complete = false
        hand.rows.append(unfinished)
        let run = try ProbeRun(contentsOf: hand.write(to: makeTemporaryDirectory(self).appendingPathComponent("r.h5")))
        XCTAssertEqual(run.labelledCount, 4)
        XCTAssertEqual(run.unfinishedRows, 1)
        XCTAssertEqual(try run.accuracy(of: "L0H2"), 1)
    }

    func testRunsOfDifferentModelsShapesOrConventionsAreRefused() throws {
        let directory = try makeTemporaryDirectory(self)
        func open(_ name: String, _ change: (inout HandBuiltRun) -> Void) throws -> ProbeRun {
            var hand = Self.threeHeads()
            change(&hand)
            return try ProbeRun(contentsOf: hand.write(to: directory.appendingPathComponent(name)), name: name)
        }
        let a = try open("A.h5") { _ in }
        let otherModel = try open("B.h5") { $0.modelSHA256 = String(repeating: "cd", count: 32) }
        let otherShape = try open("C.h5") { hand in
            hand.layers = 2
            hand.rows = hand.rows.map { row in var row = row; row.scores = row.scores.map { $0 + $0 }; return row }
        }
        let otherRope = try open("D.h5") { $0.rope = .post }
        let otherScale = try open("E.h5") { $0.scale = 0.5 }
        XCTAssertThrowsMessage(try a.ensureComparable(with: otherModel),
                               "B.h5: made with a different model than A.h5 (model_sha256 cdcdcdcdcdcd… vs abababababab…); "
                                   + "heads of different models cannot be compared")
        XCTAssertThrowsMessage(try a.ensureComparable(with: otherShape), "C.h5: has 2 layers x 3 heads but A.h5 has 1 x 3")
        XCTAssertThrowsMessage(try a.ensureComparable(with: otherRope), "D.h5: scores q/k post-rotary but A.h5 pre-rotary")
        XCTAssertThrowsMessage(try a.ensureComparable(with: otherScale), "E.h5: scales q/k by 1/sqrt(d_head) but A.h5 by none")
        XCTAssertNoThrow(try a.ensureComparable(with: a))
        // select refuses them whether they come as calibration or as test runs.
        XCTAssertThrowsError(try HeadSelection(calibration: [a], test: [otherModel], topK: 1))
        XCTAssertThrowsMessage(try HeadSelection(calibration: [a, otherShape], test: [], topK: 1),
                               "C.h5: has 2 layers x 3 heads but A.h5 has 1 x 3")
    }

    func testAMissingOrBrokenRunFileIsAOneLineError() throws {
        let directory = try makeTemporaryDirectory(self)
        let missing = directory.appendingPathComponent("missing.h5")
        XCTAssertThrowsError(try ProbeRun(contentsOf: missing)) { error in
            XCTAssertTrue("\(error)".hasPrefix(missing.path + ": "), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"), "\(error)")
        }
        let text = directory.appendingPathComponent("text.h5")
        try Data("not HDF5".utf8).write(to: text)
        XCTAssertThrowsError(try ProbeRun(contentsOf: text)) { error in
            XCTAssertTrue("\(error)".hasPrefix(text.path + ": "), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"), "\(error)")
        }
    }
}
