import Foundation
import Probe
import RunStore
import XCTest

/// A run file written by hand: every score is chosen, so every accuracy is known.
struct HandBuiltRun {
    /// One sample: its label, groups, and per option the scores of every head ([L * H], layer-major).
    struct Row {
        var label: Int
        var steps = -1
        var distractors = -1
        var scores: [[Float]]
        var logits: [Float]
        /// Whether the row is written (a stopped run leaves some rows unwritten).
        var complete = true
    }

    var layers = 1
    var heads = 3
    var options = [" True", " False"]
    var modelSHA256 = String(repeating: "ab", count: 32)
    var rope = QKRope.pre
    var scale: Float = 1
    var rows: [Row] = []

    /// A row in which head i scores 1 for option `choices[i]` and 0 for the others, and the
    /// model's logit is highest for `model`.
    static func row(label: Int, choices: [Int], model: Int, options: Int = 2, steps: Int = -1, distractors: Int = -1) -> Row {
        Row(label: label, steps: steps, distractors: distractors,
            scores: (0..<options).map { option in choices.map { $0 == option ? 1 : 0 } },
            logits: (0..<options).map { $0 == model ? 1 : 0 })
    }

    @discardableResult
    func write(to url: URL) throws -> URL {
        let header = RunHeader(
            toolVersion: "0.1.0-test", created: "2025-01-01T00:00:00Z", modelName: "hand-built",
            modelPath: "/models/hand.gguf", modelSHA256: modelSHA256, architecture: "llama",
            nLayers: layers, nHeads: heads, nKVHeads: 1, dHead: 4, datasetName: url.deletingPathExtension().lastPathComponent,
            datasetSHA256: String(repeating: "cd", count: 32), template: "{context}\n{question}\nAnswer:",
            qkRope: rope, qkScale: scale, threads: 1)
        let samples = rows.enumerated().map { index, row in
            SampleInfo(id: "s\(index)", label: row.label, steps: row.steps, distractors: row.distractors,
                       tokenIDs: [1, 2, 3], anchor: 1)
        }
        let spec = RunSpec(header: header, options: options, samples: samples, saveActivations: false)
        let file = try RunFile.open(at: url, spec: spec, ifExists: .refuse)
        for (index, row) in rows.enumerated() where row.complete {
            precondition(row.scores.count == options.count && row.scores.allSatisfy { $0.count == layers * heads })
            try file.write(row: index, qk: row.scores.flatMap { $0 }, modelLogits: row.logits)
        }
        try file.close()
        return url
    }
}

/// A fresh directory under the system's temporary directory, removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("selection-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
    return directory
}

/// Asserts that `body` throws a `SelectionError` (or any error) whose description is `expected`.
func XCTAssertThrowsMessage<T>(_ body: @autoclosure () throws -> T, _ expected: String,
                               file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        XCTAssertEqual("\(error)", expected, file: file, line: line)
    }
}

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
