import Foundation
import LogicTasks
import XCTest
@testable import Selection

final class SplitTests: XCTestCase {
    func testBoundedIntegersAndShuffleArePermutations() {
        var generator = SplitMix64(seed: 3)
        for bound in [1, 2, 3, 7, 1000] {
            XCTAssertTrue((0..<200).allSatisfy { _ in (0..<bound).contains(generator.below(bound)) })
        }
        var items = Array(0..<100)
        generator.shuffle(&items)
        XCTAssertEqual(items.sorted(), Array(0..<100))
        XCTAssertNotEqual(items, Array(0..<100))
    }

    /// 20 labelled rows (12 labelled 0, 8 labelled 1), 2 unlabelled and 1 unfinished. Row i
    /// scores i for option 0, so the rows can be told apart after the split.
    private func labelledRun() throws -> ProbeRun {
        var hand = HandBuiltRun()
        hand.heads = 1
        func row(_ id: Int, label: Int) -> HandBuiltRun.Row {
            HandBuiltRun.Row(label: label, scores: [[Float(id)], [Float(id % 3)]], logits: [0, 1])
        }
        hand.rows = (0..<20).map { row($0, label: $0 < 12 ? 0 : 1) }
        hand.rows.insert(row(100, label: -1), at: 5)
        hand.rows.append(row(101, label: -1))
        var unfinished = row(102, label: 1)
        unfinished.complete = false
        hand.rows.append(unfinished)
        return try ProbeRun(contentsOf: hand.write(to: makeTemporaryDirectory(self).appendingPathComponent("r.h5")), name: "r.h5")
    }

    /// The ids (option-0 scores) of a part's rows, in order.
    private func ids(_ part: ProbeRun) -> [Int] {
        (0..<part.samples.count).map { Int(part.samples.qk[$0 * 2]) }
    }

    func testSplitIsDeterministicStratifiedAndDisjoint() throws {
        let run = try labelledRun()
        let settings = SplitSettings(fraction: 0.75, seed: 7)
        let (calibration, heldOut) = try run.split(settings)
        let again = try run.split(settings)
        XCTAssertEqual(calibration.samples.qk, again.calibration.samples.qk)
        XCTAssertEqual(calibration.samples.labels, again.calibration.samples.labels)
        XCTAssertEqual(heldOut.samples.qk, again.heldOut.samples.qk)

        // round(0.75 * 12) = 9 of label 0 and round(0.75 * 8) = 6 of label 1 calibrate.
        XCTAssertEqual(calibration.samples.labels.filter { $0 == 0 }.count, 9)
        XCTAssertEqual(calibration.samples.labels.filter { $0 == 1 }.count, 6)
        XCTAssertEqual(heldOut.samples.labels.filter { $0 == 0 }.count, 3)
        XCTAssertEqual(heldOut.samples.labels.filter { $0 == 1 }.count, 2)
        XCTAssertEqual(calibration.labelledCount + heldOut.labelledCount, 20)
        XCTAssertEqual(calibration.name, "r.h5 [75% calibration, seed 7]")
        XCTAssertEqual(heldOut.name, "r.h5 [25% held out, seed 7]")

        // Every labelled row lands in exactly one part, and each part keeps file order.
        XCTAssertEqual(Set(ids(calibration)).union(ids(heldOut)), Set(0..<20))
        XCTAssertTrue(Set(ids(calibration)).isDisjoint(with: ids(heldOut)))
        XCTAssertEqual(ids(calibration), ids(calibration).sorted())
        XCTAssertEqual(ids(heldOut), ids(heldOut).sorted())
        XCTAssertEqual(ids(heldOut).map { $0 < 12 ? 0 : 1 }, heldOut.samples.labels)

        let other = try run.split(SplitSettings(fraction: 0.75, seed: 8))
        XCTAssertEqual(other.calibration.labelledCount, 15)
        XCTAssertNotEqual(ids(other.heldOut), ids(heldOut), "another seed, another split")
    }

    func testBadFractionsAreRefused() throws {
        let run = try labelledRun()
        for fraction in [0, 1, -0.5, 1.5, .nan] {
            XCTAssertThrowsMessage(try run.split(SplitSettings(fraction: fraction, seed: 1)),
                                   "r.h5: the split fraction must lie strictly between 0 and 1, not \(fraction)")
        }
        XCTAssertThrowsMessage(try run.split(SplitSettings(fraction: 0.01, seed: 1)),
                               "r.h5: a 1% split of 20 labelled rows leaves no calibration rows")
        XCTAssertThrowsMessage(try run.split(SplitSettings(fraction: 0.99, seed: 1)),
                               "r.h5: a 99% split of 20 labelled rows leaves no held-out rows")
    }
}
