import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import Probe
@testable import Reports

final class HeadReportTests: XCTestCase {
    /// 2 layers x 3 heads; model baseline 50%; L1H2 best, then L0H1.
    let report = HeadReport(
        modelName: "tiny", modelSHA256: "abc", datasetName: "calib", options: [" True", " False"],
        rotary: "pre", scale: "none", samples: 10,
        tables: HeadAccuracyTables(
            layers: 2, heads: 3,
            overall: AccuracyGroup(value: nil, count: 8, heads: [0.25, 0.75, 0.5, 0.375, 0.5, 0.875], baseline: 0.5),
            bySteps: [
                AccuracyGroup(value: 1, count: 4, heads: [0.5, 1, 0.5, 0.5, 0.5, 1], baseline: 0.75),
                AccuracyGroup(value: 3, count: 4, heads: [0, 0.5, 0.5, 0.25, 0.5, 0.75], baseline: 0.25),
            ],
            byDistractors: [AccuracyGroup(value: 0, count: 0, heads: Array(repeating: .nan, count: 6), baseline: .nan)]))

    func testTableListsTopHeadsAgainstTheModel() {
        let text = report.render(.table, top: 2)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].contains("8 labelled of 10 samples"), lines[0])
        XCTAssertEqual(lines.count, 6)
        XCTAssertEqual(lines[3].split(separator: " ", omittingEmptySubsequences: true), ["-", "model", "50.0%"])
        XCTAssertEqual(lines[4].split(separator: " ", omittingEmptySubsequences: true), ["1", "L1H2", "87.5%", "+37.5"])
        XCTAssertEqual(lines[5].split(separator: " ", omittingEmptySubsequences: true), ["2", "L0H1", "75.0%", "+25.0"])
    }

    func testCSVAndMarkdownByStepsHaveOneColumnPerGroup() {
        let csv = report.render(.csv, top: 1, by: .steps).split(separator: "\n")
        XCTAssertEqual(csv, ["head,steps=1 (n=4),steps=3 (n=4)", "model,75.0%,25.0%", "L1H2,100.0%,75.0%"])
        let markdown = report.render(.markdown, top: 1, by: .distractors).split(separator: "\n")
        XCTAssertEqual(markdown, ["| head | distractors=0 (n=0) |", "| --- | --- |", "| model | - |", "| L1H2 | - |"])
    }

    func testJSONRoundTripsWithSnakeCaseKeysAndNullForEmptyGroups() throws {
        let data = Data(report.render(.json, top: 3).utf8)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["model_sha256"] as? String, "abc")
        XCTAssertEqual(object["n_labelled"] as? Int, 8)
        let document = try HeadTableDocument.decode(from: data)
        XCTAssertEqual(document, report.document(top: 3))
        XCTAssertEqual(document.accuracy[1][2], 0.875)
        XCTAssertEqual(document.top.map(\.name), ["L1H2", "L0H1", "L0H2"])
        XCTAssertNil(document.byDistractors[0].baseline)
        XCTAssertNil(document.byDistractors[0].accuracy[0][0])
    }

    func testHeatmapIsWellFormedAndOutlinesHeadsAboveBaseline() throws {
        let svg = report.heatmapSVG(topHeads: 2)
        final class Counter: NSObject, XMLParserDelegate {
            var cells = 0, outlined = 0, polylines = 0
            func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?,
                        qualifiedName: String?, attributes: [String: String] = [:]) {
                if element == "rect", attributes["width"] == "17.0" { cells += 1; if attributes["stroke"] == "black" { outlined += 1 } }
                if element == "polyline" { polylines += 1 }
            }
        }
        let parser = XMLParser(data: Data(svg.utf8))
        let counter = Counter()
        parser.delegate = counter
        XCTAssertTrue(parser.parse(), "SVG is not well-formed XML")
        XCTAssertEqual(counter.cells, 6)
        XCTAssertEqual(counter.outlined, 2)      // L0H1 and L1H2 beat 50%
        XCTAssertEqual(counter.polylines, 3)     // the model and two heads
    }

    func testDivergingColourIsWhiteAtTheBaseline() {
        XCTAssertEqual(divergingColour(0.5, centre: 0.5, spread: 0.2), "#ffffff")
        XCTAssertEqual(divergingColour(0.9, centre: 0.5, spread: 0.2), "#ff3326")
        XCTAssertEqual(divergingColour(.nan, centre: 0.5, spread: 0.2), "#cccccc")
    }
}
