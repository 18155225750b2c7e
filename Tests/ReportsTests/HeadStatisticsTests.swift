import Foundation
import Probe
import Statistics
import XCTest
@testable import Reports

final class HeadStatisticsTests: XCTestCase {
    /// 1 layer x 3 heads, 8 labelled rows (6 of option 0, 2 of option 1) and one unlabelled row.
    /// Head 0 always answers option 0, head 1 is always right, head 2 is right on rows 0-3 only;
    /// the model is right on rows 0, 1, 6.
    static func samples() -> ScoredSamples {
        let labels = [0, 0, 0, 0, 0, 0, 1, 1, -1]
        let head2 = [0, 0, 0, 0, 1, 1, 0, 0, 0]
        let model = [0, 0, 1, 1, 1, 1, 1, 0, 0]
        var qk: [Float] = [], logits: [Float] = []
        for n in labels.indices {
            let choices = [0, max(labels[n], 0), head2[n]]
            for option in 0..<2 {
                qk += choices.map { $0 == option ? 1 : 0 }
                logits.append(model[n] == option ? 2 : 1)
            }
        }
        return ScoredSamples(options: 2, layers: 1, heads: 3, qk: qk, modelLogits: logits, labels: labels,
                             steps: [1, 1, 1, 1, 2, 2, 2, 2, 2], distractors: Array(repeating: -1, count: 9),
                             complete: Array(repeating: true, count: 9))
    }

    func testEveryHeadGetsCountsIntervalsBalancedAccuracyAndAnswerShare() throws {
        let s = HeadStatistics(Self.samples(), permutations: 200, seed: 3)
        XCTAssertEqual(s.count, 8)
        XCTAssertEqual(s.majorityLabel, 0)
        XCTAssertEqual(s.majorityClassAccuracy, 0.75)
        XCTAssertEqual(s.perHead.map(\.correct), [6, 8, 4])
        XCTAssertEqual(s.perHead.map(\.constant), [true, false, false])
        XCTAssertEqual(s.perHead[0].balancedAccuracy, 0.5)
        XCTAssertEqual(s.perHead[2].balancedAccuracy, (4.0 / 6 + 0) / 2)
        XCTAssertEqual(s.perHead[2].answerShare, 6.0 / 8)
        XCTAssertEqual(s.perHead[1].ci95, wilsonInterval(successes: 8, trials: 8))
        XCTAssertEqual(s.model.correct, 3)
        // Head 1 against the model: right alone on rows 2, 3, 4, 5, 7; never wrong where the model is right.
        XCTAssertEqual(s.vsModel[1].onlyHead, 5)
        XCTAssertEqual(s.vsModel[1].onlyModel, 0)
        XCTAssertEqual(s.vsModel[1].p, mcnemarExactP(onlyFirst: 5, onlySecond: 0))
        XCTAssertEqual(s.vsModel[1].difference, 5.0 / 8)
        XCTAssertEqual(s.ranked, [1, 0, 2])
        XCTAssertEqual(s.bestHead, 1)
        XCTAssertEqual(s.constantHeads, 1)
        // The permutation test is the Statistics one, on the labelled rows, with the seed given.
        XCTAssertEqual(s.permutation.permutations, 200)
        XCTAssertEqual(s.permutation.correct, [6, 8, 4])
        XCTAssertEqual(s.bestHeadFamilywiseP, s.permutation.adjustedP[1])
        // The constant head reaches its count under every shuffle.
        XCTAssertEqual(s.adjustedP(0), 1)
    }

    func testNoLabelledRowsGivesNoNumbersRatherThanACrash() {
        let samples = Self.samples()
        let s = HeadStatistics(samples, rows: [])
        XCTAssertEqual(s.count, 0)
        XCTAssertNil(s.model.accuracy)
        XCTAssertNil(s.model.ci95)
        XCTAssertNil(s.bestHeadFamilywiseP)
        XCTAssertNil(s.majorityClassAccuracy)
        XCTAssertEqual(s.verdict(options: [" True", " False"]), "no labelled rows: nothing to test")
    }
}
