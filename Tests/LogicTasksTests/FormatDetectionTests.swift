import Foundation
import XCTest
@testable import LogicTasks

final class FormatDetectionTests: XCTestCase {
    private func write(_ text: String, _ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qkprobe-detect-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    func testEachFormatIsToldByItsContent() throws {
        XCTAssertEqual(try DatasetFormat.detect(write("\n{\"id\":\"a\",\"prompt\":\"x\\nAnswer:\",\"options\":[\" a\"]}\n", "p.jsonl")), .prompts)
        XCTAssertEqual(try DatasetFormat.detect(write("{\"id\":\"a\",\"context\":\"c\",\"questions\":[]}", "r.jsonl")), .pararule)
        XCTAssertEqual(try DatasetFormat.detect(write("{\"logic\":\"pl\",\"samples\":[]}", "m.json")), .multilogieval)
        XCTAssertEqual(try DatasetFormat.detect(write("[{\"id\":\"1\",\"options\":[],\"answer\":\"A\"}]", "l.json")), .prontoqa)
        XCTAssertEqual(try DatasetFormat.detect(write("{\"e1\":{\"test_example\":{}}}", "d.json")), .prontoqa)
        let folder = try write("{\"logic\":\"fol\",\"samples\":[]}", "x.json").deletingLastPathComponent()
        XCTAssertEqual(try DatasetFormat.detect(folder), .multilogieval)
    }

    func testUnknownContentAsksForFormat() throws {
        for (text, name) in [("{\"id\":1}", "a.jsonl"), ("[1,2]", "b.json"), ("not json", "c.jsonl"), ("{\"x\":1}", "d.json")] {
            XCTAssertThrowsError(try DatasetFormat.detect(write(text, name)), name) { error in
                XCTAssertTrue("\(error)".contains(name), "\(error)")
            }
        }
        XCTAssertThrowsError(try DatasetFormat.detect(URL(fileURLWithPath: "/nonexistent/qk.jsonl")))
    }
}
