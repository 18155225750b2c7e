import Foundation
import Probe
import XCTest
@testable import Selection

final class EnsembleTests: XCTestCase {
    /// In-memory samples: `scores[n][option]` holds the scores of every head of one layer.
    private func samples(labels: [Int], scores: [[[Float]]], steps: [Int]? = nil) -> ScoredSamples {
        let options = scores[0].count, heads = scores[0][0].count
        return ScoredSamples(options: options, layers: 1, heads: heads, qk: scores.flatMap { $0.flatMap { $0 } },
                             modelLogits: Array(repeating: 0, count: labels.count * options), labels: labels,
                             steps: steps ?? labels.map { _ in -1 }, distractors: labels.map { _ in -1 },
                             complete: labels.map { _ in true })
    }

    private let heads = (0..<3).map { HeadID(layer: 0, head: $0) }

    /// Worked by hand. Calibration, two rows labelled 0, scores [option 0, option 1] per head:
    ///   head 0: [2, 0], [4, 2]   -> mean 2,    variance (0+4+4+0)/4 = 2,                sd sqrt(2)
    ///   head 1: [10, 0], [0, 10] -> mean 5,    variance 25,                             sd 5
    ///   head 2: [1, 1], [0, 1]   -> mean 0.75, variance (3 * 0.0625 + 0.5625)/4 = 0.1875
    /// Test row: head 0 [0, 1] votes 1, head 1 [20, 0] votes 0, head 2 [0, 0.5] votes 1.
    ///   vote: option 1 (two votes to one)
    ///   z-sum: option 0: (0-2)/sqrt(2) + (20-5)/5 + (0-0.75)/sqrt(0.1875) = -1.4142 + 3 - 1.7321 = -0.1463
    ///          option 1: (1-2)/sqrt(2) + (0-5)/5 + (0.5-0.75)/sqrt(0.1875) = -0.7071 - 1 - 0.5774 = -2.2845
    ///          -> option 0: the heads disagree with the vote because head 1 is very sure.
    func testEnsembleArithmeticWorkedByHand() {
        let calibration = samples(labels: [0, 0], scores: [[[2, 10, 1], [0, 0, 1]], [[4, 0, 0], [2, 10, 1]]])
        let ensemble = HeadEnsemble(heads: heads, calibration: calibration)
        XCTAssertEqual(ensemble.scoreMean, [2, 5, 0.75])
        XCTAssertEqual(ensemble.scoreDeviation[0], 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(ensemble.scoreDeviation[1], 5, accuracy: 1e-12)
        XCTAssertEqual(ensemble.scoreDeviation[2], 0.1875.squareRoot(), accuracy: 1e-12)

        let test = samples(labels: [1], scores: [[[0, 20, 0], [1, 0, 0.5]]])
        XCTAssertEqual(ensemble.majorityVote(test, sample: 0), 1)
        let sums = ensemble.summedZScores(test, sample: 0)
        XCTAssertEqual(sums[0], -2 / 2.0.squareRoot() + 3 - 0.75 / 0.1875.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(sums[1], -1 / 2.0.squareRoot() - 1 - 0.25 / 0.1875.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(sums[0], -0.1463, accuracy: 1e-4)
        XCTAssertEqual(ensemble.zSumChoice(test, sample: 0), 0)
    }

    /// Votes tied between options: the best-ranked head voting for one of the tied options decides.
    func testMajorityVoteTies() {
        let five = (0..<5).map { HeadID(layer: 0, head: $0) }
        // Three options; heads (in rank order) vote 2, 1, 0, 0, 1: options 0 and 1 tie on two votes,
        // and head 1, the best-ranked of their voters, voted 1.
        let votes = [2, 1, 0, 0, 1]
        let row: [[Float]] = (0..<3).map { option in votes.map { $0 == option ? 1 : 0 } }
        let test = samples(labels: [0], scores: [row])
        let ensemble = HeadEnsemble(heads: five, calibration: test)
        XCTAssertEqual(ensemble.majorityVote(test, sample: 0), 1)
        // Two heads that disagree answer as the better one, in either order of head numbers.
        let pair = samples(labels: [0], scores: [[[1, 0], [0, 1]]])
        XCTAssertEqual(HeadEnsemble(heads: [heads[0], heads[1]], calibration: pair).majorityVote(pair, sample: 0), 0)
        XCTAssertEqual(HeadEnsemble(heads: [heads[1], heads[0]], calibration: pair).majorityVote(pair, sample: 0), 1)
    }

    /// Equal z-sums go to the first option; a head with constant calibration scores adds nothing.
    func testZSumTiesAndConstantHeads() {
        let calibration = samples(labels: [0, 1], scores: [[[1, 3], [0, 3]], [[0, 3], [1, 3]]])
        let ensemble = HeadEnsemble(heads: [heads[0], heads[1]], calibration: calibration)
        XCTAssertEqual(ensemble.scoreDeviation[1], 0)
        let test = samples(labels: [1], scores: [[[0.5, 100], [0.5, -100]]])
        XCTAssertEqual(ensemble.summedZScores(test, sample: 0), [0, 0])
        XCTAssertEqual(ensemble.zSumChoice(test, sample: 0), 0)
    }

    /// One head alone: both ensembles answer exactly as the head does.
    func testASingleHeadEnsembleIsTheHead() {
        var scores: [[[Float]]] = []
        var state: UInt64 = 7
        for _ in 0..<50 {
            scores.append((0..<3).map { _ in
                (0..<3).map { _ in
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    return Float(state >> 40) / Float(1 << 24) - 0.5
                }
            })
        }
        let set = samples(labels: (0..<50).map { $0 % 3 }, scores: scores)
        for head in heads {
            let ensemble = HeadEnsemble(heads: [head], calibration: set)
            for n in 0..<50 {
                let alone = set.headChoice(sample: n, layer: 0, head: head.head)
                XCTAssertEqual(ensemble.majorityVote(set, sample: n), alone)
                XCTAssertEqual(ensemble.zSumChoice(set, sample: n), alone)
            }
        }
    }

    /// The per-rule accuracies of `select` agree with the head tables of Probe, group by group.
    func testRuleAccuracyAgreesWithTheHeadTables() {
        var scores: [[[Float]]] = []
        var state: UInt64 = 11
        for _ in 0..<40 {
            scores.append((0..<2).map { _ in
                (0..<3).map { _ in
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    return Float(state >> 40) / Float(1 << 24)
                }
            })
        }
        let set = samples(labels: (0..<40).map { $0 % 2 }, scores: scores, steps: (0..<40).map { $0 % 5 - 1 })
        let tables = headAccuracyTables(set)
        for head in heads {
            let rule = RuleAccuracy(rule: head.name, samples: set) { set.headChoice(sample: $0, layer: 0, head: head.head) }
            XCTAssertEqual(rule.count, tables.overall.count)
            XCTAssertEqual(Float(rule.accuracy ?? .nan), tables.overall.heads[head.head])
            XCTAssertEqual(rule.bySteps.map(\.value), tables.bySteps.compactMap(\.value))
            XCTAssertEqual(rule.bySteps.map(\.value), [0, 1, 2, 3])
            for (group, expected) in zip(rule.bySteps, tables.bySteps) {
                XCTAssertEqual(group.count, expected.count)
                XCTAssertEqual(Float(group.accuracy), expected.heads[head.head])
            }
        }
    }
}
