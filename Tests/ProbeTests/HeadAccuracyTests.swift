import XCTest
@testable import Probe

final class QKScoreTests: XCTestCase {
    func testGroupedQueryHeadsReadTheirKeyHead() {
        // 1 layer, 4 query heads over 2 key heads: heads 0,1 read key 0; heads 2,3 read key 1.
        let shape = HeadShape(layers: 1, heads: 4, kvHeads: 2, dHead: 2)
        XCTAssertEqual((0..<4).map(shape.kvHead(of:)), [0, 0, 1, 1])
        let keys: [Float] = [1, 0, /* key head 1 */ 0, 2]
        let queries: [Float] = [
            // option 0: heads 0..3
            3, 5, 7, 11, 13, 17, 19, 23,
            // option 1
            -1, 0, 0, -1, 1, 1, 2, -2,
        ]
        let scores = qkScores(optionQueries: queries, anchorKeys: keys, options: 2, shape: shape, scale: 1)
        XCTAssertEqual(scores, [3, 7, 34, 46, /* option 1 */ -1, 0, 2, -4])
        let scaled = qkScores(optionQueries: queries, anchorKeys: keys, options: 2, shape: shape,
                              scale: ScoreScale.sqrt.factor(dHead: 2))
        XCTAssertEqual(scaled[2], 34 / Float(2).squareRoot(), accuracy: 1e-5)
    }

    func testArgmaxTakesFirstOfTies() {
        XCTAssertEqual(argmax([1, 3, 3, 2] as [Float]), 1)
        XCTAssertEqual(argmax([5] as [Float]), 0)
        XCTAssertEqual(argmax(([0, 9, 1, 9] as [Float])[2...]), 1)
    }
}

final class HeadAccuracyTests: XCTestCase {
    /// Two options, one layer, two heads. Head 0 always prefers option 0; head 1 follows the label.
    func makeSamples() -> ScoredSamples {
        let labels = [0, 1, 1, -1, 0]
        let steps = [1, 1, 2, 2, -1]
        let distractors = [0, 2, 2, 0, 0]
        var qk: [Float] = []
        var logits: [Float] = []
        for (n, label) in labels.enumerated() {
            for o in 0..<2 {
                qk.append(o == 0 ? 1 : 0)                         // head 0
                qk.append(o == max(label, 0) ? 1 : 0)             // head 1
                logits.append(o == (n == 2 ? 0 : max(label, 0)) ? 2 : 1) // model wrong on sample 2
            }
        }
        return ScoredSamples(options: 2, layers: 1, heads: 2, qk: qk, modelLogits: logits,
                             labels: labels, steps: steps, distractors: distractors,
                             complete: [true, true, true, true, false])
    }

    func testOverallLeavesOutUnlabelledAndIncompleteRows() {
        let tables = headAccuracyTables(makeSamples())
        XCTAssertEqual(tables.overall.count, 3)
        XCTAssertEqual(tables.overall.heads, [1.0 / 3, 1])
        XCTAssertEqual(tables.overall.baseline, 2.0 / 3, accuracy: 1e-6)
    }

    func testGroupsByStepsAndDistractors() {
        let tables = headAccuracyTables(makeSamples())
        XCTAssertEqual(tables.bySteps.map(\.value), [1, 2])
        XCTAssertEqual(tables.bySteps.map(\.count), [2, 1])
        XCTAssertEqual(tables.bySteps[0].heads, [0.5, 1])
        XCTAssertEqual(tables.bySteps[1].heads, [0, 1])
        XCTAssertEqual(tables.bySteps[1].baseline, 0)
        XCTAssertEqual(tables.byDistractors.map(\.value), [0, 2])
        XCTAssertEqual(tables.byDistractors[1].heads, [0, 1])
    }

    func testTiesGoToTheFirstOption() {
        let samples = ScoredSamples(options: 2, layers: 1, heads: 1, qk: [0.5, 0.5, 0.5, 0.5],
                                    modelLogits: [1, 1, 1, 1], labels: [0, 1], steps: [-1, -1],
                                    distractors: [-1, -1], complete: [true, true])
        let tables = headAccuracyTables(samples)
        XCTAssertEqual(tables.overall.heads, [0.5])
        XCTAssertEqual(tables.overall.baseline, 0.5)
        XCTAssertTrue(tables.bySteps.isEmpty)
    }

    func testRankingIsStableOnTies() {
        let tables = HeadAccuracyTables(
            layers: 2, heads: 2,
            overall: AccuracyGroup(value: nil, count: 4, heads: [0.5, 0.75, 0.75, 0.25], baseline: 0.5),
            bySteps: [], byDistractors: [])
        XCTAssertEqual(tables.ranked().map { [$0.layer, $0.head] }, [[0, 1], [1, 0], [0, 0], [1, 1]])
    }
}
