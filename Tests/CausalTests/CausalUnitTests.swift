import Foundation
import Probe
import XCTest
@testable import Causal
import RunStore
import Transformer

/// Head names, random draws, statistics and the ablation edit, without a reference.
final class CausalUnitTests: XCTestCase {
    private func tinyLlama() throws -> Transformer {
        try Transformer(path: CausalReferenceTests.tinyModelURL("tiny-llama").path)
    }

    func testHeadNamesParse() throws {
        XCTAssertEqual(try HeadID.list("L3H5, L10H0"), [HeadID(layer: 3, head: 5), HeadID(layer: 10, head: 0)])
        for bad in ["L3", "H5", "L-1H2", "L3H", "3H5", "L3H5H6", "L99999999999H0"] {
            XCTAssertThrowsError(try HeadID.list(bad), bad)
        }
    }

    func testRandomDrawsStayInTheNamedLayersAndAvoidTheNamedHeads() throws {
        let named = [HeadID(layer: 2, head: 1), HeadID(layer: 2, head: 4), HeadID(layer: 7, head: 0)]
        let draws = try AblationExperiment.drawRandomHeads(like: named, headsPerLayer: 9, draws: 200, seed: 5)
        XCTAssertEqual(draws.count, 200)
        var seen = Set<HeadID>()
        for draw in draws {
            XCTAssertEqual(draw.filter { $0.layer == 2 }.count, 2)
            XCTAssertEqual(draw.filter { $0.layer == 7 }.count, 1)
            XCTAssertEqual(Set(draw).count, 3)
            XCTAssertTrue(Set(draw).isDisjoint(with: named))
            seen.formUnion(draw)
        }
        // Every other head of those layers comes up in 200 draws.
        XCTAssertEqual(seen.count, 7 + 8)
        XCTAssertEqual(draws, try AblationExperiment.drawRandomHeads(like: named, headsPerLayer: 9, draws: 200, seed: 5))
        XCTAssertNotEqual(draws, try AblationExperiment.drawRandomHeads(like: named, headsPerLayer: 9, draws: 200, seed: 6))
        XCTAssertThrowsError(try AblationExperiment.drawRandomHeads(
            like: (0 ..< 3).map { HeadID(layer: 0, head: $0) }, headsPerLayer: 4, draws: 1, seed: 0))
    }

    /// Against scipy: stats.t.ppf(0.975, df).
    func testStudentQuantile() {
        let scipy: [(Int, Double)] = [(1, 12.706204736174698), (2, 4.302652729749464), (3, 3.182446305284263),
                                      (5, 2.570581835636314), (10, 2.2281388519649385), (30, 2.0422724563012373),
                                      (299, 1.9679296690656698)]
        for (df, expected) in scipy {
            XCTAssertEqual(studentT975(degreesOfFreedom: df), expected, accuracy: 1e-3, "df \(df)")
        }
    }

    /// Against statsmodels' proportion_confint(method="wilson") and scipy's binomtest.
    func testIntervalsAndMcNemar() throws {
        let interval = try XCTUnwrap(wilsonInterval95(successes: 37, trials: 120))
        XCTAssertEqual(interval.lowerBound, 0.23272736988916298, accuracy: 1e-9)
        XCTAssertEqual(interval.upperBound, 0.39582997723800684, accuracy: 1e-9)
        XCTAssertEqual(mcnemarExactTwoSidedP(3, 12), 0.03515625, accuracy: 1e-9)
        XCTAssertEqual(mcnemarExactTwoSidedP(0, 0), 1)
    }

    func testSummariesCountLabelledSamplesOnly() {
        let logits: [[Float]] = [[2, 1], [0, 3], [1, 1], [5, -1]]
        let summary = ConditionSummary(logits: logits, labels: [0, 0, 1, nil])
        XCTAssertEqual(summary.labelled, 3)
        XCTAssertEqual(summary.correct, 1)          // [1, 1] picks option 0 on the tie
        XCTAssertEqual(summary.logitDifferences.compactMap { $0 }, [1, -3, 0])
        XCTAssertEqual(summary.logitDifference.mean!, -2.0 / 3, accuracy: 1e-12)
    }

    /// Zeroing a head's hook_z removes exactly its contribution: the attention output changes by
    /// minus that head's slice through the output projection, and other heads' z stay put.
    func testZeroAblationOnlyTouchesTheHead() throws {
        let model = try tinyLlama()
        let ids = [5, 17, 42, 99, 3, 250, 7]
        let hooks: Set<HookName> = [HookName(.z, layer: 1)]
        let ablation = try HeadAblation(heads: [HeadID(layer: 1, head: 2)], method: .zero, model: model)
        let clean = try model.forward(ids, capture: HookCapture(hooks))
        let ablated = try model.forward(ids, capture: HookCapture(hooks), edit: ablation.edit)
        let dHead = model.config.dHead
        for position in ids.indices {
            for head in 0 ..< model.config.nHeads {
                let before = Array(clean[HookName(.z, layer: 1)]!.vector(at: position, head: head)!)
                let after = Array(ablated[HookName(.z, layer: 1)]!.vector(at: position, head: head)!)
                XCTAssertEqual(after, head == 2 ? [Float](repeating: 0, count: dHead) : before)
            }
        }
        XCTAssertNotEqual(clean.logits.values, ablated.logits.values)
        XCTAssertThrowsError(try HeadAblation(heads: [HeadID(layer: 2, head: 0)], method: .zero, model: model))
        XCTAssertThrowsError(try HeadAblation(heads: [HeadID(layer: 0, head: 0)], method: .mean, model: model))
    }

    func testAblationFileLayout() throws {
        let model = try tinyLlama()
        let samples = [AblationSample(tokenIDs: [1, 2, 3, 4], optionIDs: [10, 11], label: 1),
                       AblationSample(tokenIDs: [9, 8, 7], optionIDs: [10, 11], label: nil)]
        let result = try AblationExperiment(model: model, heads: [HeadID(layer: 0, head: 1)], method: .mean,
                                            randomDraws: 3, seed: 1).run(samples)
        XCTAssertEqual(result.randomLogits.count, 3)
        let report = AblationReport(result: result, sampleIDs: ["a", "b"], options: [" yes", " no"], attributes: [:])
        let shapes = Dictionary(uniqueKeysWithValues: report.datasets.map { ($0.path, $0.shape) })
        XCTAssertEqual(shapes["/ablation/clean_logit"], [2, 2])
        XCTAssertEqual(shapes["/ablation/ablated_logit"], [2, 2])
        XCTAssertEqual(shapes["/ablation/random_logit"], [3, 2, 2])
        XCTAssertEqual(shapes["/ablation/random_heads"], [3, 1, 2])
        XCTAssertEqual(shapes["/ablation/mean_z"], [1, model.config.dHead])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ablation-\(UUID()).h5")
        defer { try? FileManager.default.removeItem(at: url) }
        try report.write(to: url, overwrite: false)
        XCTAssertThrowsError(try report.write(to: url, overwrite: false))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(report.json(perSample: true).utf8)) as? [String: Any])
        XCTAssertEqual((json["per_sample"] as? [Any])?.count, 2)
        XCTAssertEqual((json["random"] as? [Any])?.count, 3)
    }

    func testScanRefusesSequencesOfTheWrongShape() throws {
        let scan = AttentionScan(model: try tinyLlama())
        XCTAssertThrowsError(try scan.scores(.induction, sequences: [[1, 2, 3]]))
        XCTAssertThrowsError(try scan.scores(.previousToken, sequences: [[1]]))
        XCTAssertThrowsError(try scan.scores(.previousToken, sequences: []))
        XCTAssertThrowsError(try scan.scores(.previousToken, sequences: [[Int](repeating: 1, count: 200)]))
        let made = try AttentionScan.repeatedRandomSequences(count: 3, length: 5, tokens: [7, 8, 9], seed: 2)
        XCTAssertEqual(made.count, 3)
        for sequence in made { XCTAssertEqual(Array(sequence.prefix(5)), Array(sequence.suffix(5))) }
    }
}
