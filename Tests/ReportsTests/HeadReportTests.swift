import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import Probe
import Statistics
@testable import Reports

final class HeadReportTests: XCTestCase {
    /// HeadStatisticsTests.samples(): 1 layer x 3 heads; 8 labelled rows of 9; head 0 constant
    /// (75%), head 1 always right, head 2 50%; the model 37.5%.
    let report = HeadReport(modelName: "tiny", modelSHA256: "abc", datasetName: "calib", options: [" True", " False"],
                            rotary: "pre", scale: "none", samples: HeadStatisticsTests.samples(), permutations: 100, seed: 1)

    func testTableGivesNIntervalsAnswerShareAndTheVerdict() {
        let text = report.render(.table, top: 3)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].contains("8 labelled of 9 samples"), lines[0])
        XCTAssertTrue(text.contains("always answering the majority class \" True\" scores 75.0%"), text)
        XCTAssertTrue(text.contains("1 of 3 heads give the same answer on every row"), text)
        let p = report.statistics.bestHeadFamilywiseP!
        XCTAssertTrue(text.contains("best-of-3 family-wise p = \(pValue(p))"), text)
        XCTAssertTrue(text.contains("100 label permutations, seed 1"), text)
        let header = lines.first { $0.hasPrefix("rank") }!
        for column in ["n", "accuracy", "95% CI", "balanced", "answer share", "vs model", "McNemar p", "adj. p", "note"] {
            XCTAssertTrue(header.contains(column), header)
        }
        let best = lines.first { $0.hasPrefix("1 ") && $0.contains("L0H") }!
        XCTAssertTrue(best.contains("L0H1") && best.contains("100.0%") && best.contains(interval(wilsonInterval(successes: 8, trials: 8))), best)
        let constant = lines.first { $0.hasPrefix("2 ") && $0.contains("L0H") }!
        XCTAssertTrue(constant.contains("L0H0") && constant.contains("constant"), constant)
    }

    func testAnExploratoryRunSaysSoPlainly() {
        // Ten rows, labels alternating; no head is better than a coin.
        let labels = (0..<10).map { $0 % 2 }
        var qk: [Float] = []
        for n in 0..<10 { for option in 0..<2 { qk += (0..<4).map { h in Float((n * (h + 1) + option) % 3) } } }
        let samples = ScoredSamples(options: 2, layers: 2, heads: 2, qk: qk, modelLogits: Array(repeating: 0, count: 20),
                                    labels: labels, steps: Array(repeating: -1, count: 10), distractors: Array(repeating: -1, count: 10),
                                    complete: Array(repeating: true, count: 10))
        let weak = HeadReport(modelName: "m", modelSHA256: "x", datasetName: "d", options: [" True", " False"],
                              rotary: "pre", scale: "none", samples: samples)
        XCTAssertGreaterThan(weak.statistics.bestHeadFamilywiseP!, 0.05)
        XCTAssertTrue(weak.render(.markdown, top: 2).contains("exploratory: no head beats chance after selection"))
    }

    func testByGroupHasNAndIntervalsPerGroup() {
        let csv = report.render(.csv, top: 1, by: .steps).split(separator: "\n").map(String.init)
        XCTAssertEqual(csv[0], "rule,steps=1,steps=2")
        XCTAssertEqual(csv[1], "n,4,4")
        XCTAssertEqual(csv[2], "majority class,100.0%,50.0%")
        // Cells with commas are quoted, as CSV needs.
        XCTAssertTrue(csv[3].hasPrefix("model,\"50.0% [15.0, 85.0]\",\"25.0% ["), csv[3])
        XCTAssertEqual(csv[4], "L0H1,\"100.0% [51.0, 100.0]\",\"100.0% [51.0, 100.0]\"")
    }

    func testJSONHasTheStatisticsAndRoundTrips() throws {
        let data = Data(report.render(.json, top: 3).utf8)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["n"] as? Int, 8)
        XCTAssertEqual(object["majority_class_accuracy"] as? Double, 0.75)
        XCTAssertNotNil(object["best_head_familywise_p"] as? Double)
        let model = try XCTUnwrap(object["model"] as? [String: Any])
        XCTAssertEqual(model["accuracy"] as? Double, 0.375)
        XCTAssertEqual((model["ci95"] as? [Double])?.count, 2)
        let heads = try XCTUnwrap(object["heads"] as? [[String: Any]])
        XCTAssertEqual(heads.map { $0["head"] as? String }, ["L0H0", "L0H1", "L0H2"])
        XCTAssertEqual(heads[0]["constant"] as? Bool, true)
        XCTAssertEqual(heads[0]["answer_share"] as? Double, 1)
        XCTAssertEqual(heads[0]["balanced_accuracy"] as? Double, 0.5)
        let versus = try XCTUnwrap(heads[1]["vs_model"] as? [String: Any])
        XCTAssertEqual(versus["difference"] as? Double, 0.625)
        XCTAssertNotNil(versus["p"] as? Double)
        let document = try HeadTableDocument.decode(from: data)
        XCTAssertEqual(document, report.document(top: 3))
        XCTAssertEqual(document.accuracy[0][1], 1)
        XCTAssertEqual(document.top.map(\.name), ["L0H1", "L0H0", "L0H2"])
        XCTAssertEqual(document.bySteps.map(\.count), [4, 4])
    }

    func testHeatmapIsWellFormedAndOutlinesHeadsAboveChance() throws {
        let svg = report.heatmapSVG(topHeads: 2)
        final class Counter: NSObject, XMLParserDelegate {
            var cells = 0, polylines = 0
            func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?,
                        qualifiedName: String?, attributes: [String: String] = [:]) {
                if element == "rect", attributes["width"] == "17.0" { cells += 1 }
                if element == "polyline" { polylines += 1 }
            }
        }
        let parser = XMLParser(data: Data(svg.utf8))
        let counter = Counter()
        parser.delegate = counter
        XCTAssertTrue(parser.parse(), "SVG is not well-formed XML")
        XCTAssertEqual(counter.cells, 3)
        XCTAssertEqual(counter.polylines, 3)     // the model and two heads
    }

    func testDivergingColourIsWhiteAtTheCentre() {
        XCTAssertEqual(divergingColour(0.5, centre: 0.5, spread: 0.2), "#ffffff")
        XCTAssertEqual(divergingColour(0.9, centre: 0.5, spread: 0.2), "#ff3326")
        XCTAssertEqual(divergingColour(.nan, centre: 0.5, spread: 0.2), "#cccccc")
    }
}
