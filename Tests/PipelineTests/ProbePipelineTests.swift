import Foundation
import LogicTasks
import Pipeline
import Probe
import RunStore
import XCTest

/// The probe as a library call, on the tiny random Llama (safetensors + tokenizer.json).
final class ProbePipelineTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private static let tinyLlama = root.appendingPathComponent("Tests/TransformerTests/Fixtures/tiny-llama").path
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qkprobe-pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The first `count` samples of the bundled test set, as their own file.
    private func dataset(_ count: Int, edit: (String) -> String = { $0 }) throws -> URL {
        let lines = try String(contentsOf: Self.root.appendingPathComponent("datasets/logic-test.jsonl"), encoding: .utf8)
            .split(separator: "\n").prefix(count).map { edit(String($0)) }
        let url = directory.appendingPathComponent("samples.jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        return url
    }

    private func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        XCTFail("expected an error")
        return ""
    }

    func testProbesIntoARunFileWhoseRowsAndTablesAreThePipelinesOwn() throws {
        let model = try LoadedModel(path: Self.tinyLlama)
        let settings = ProbeSettings(optionToken: .first, saveActivations: true)
        let probe = try ProbePipeline(model: model, dataset: try dataset(12), settings: settings)
        let output = directory.appendingPathComponent("run.h5")
        var events: [ProbeProgress] = []
        let outcome = try probe.run(output: output) { events.append($0) }

        XCTAssertEqual(outcome.samples, 12)
        XCTAssertEqual(outcome.computed, 12)
        XCTAssertEqual(events.map(\.complete), Array(0...12), "once when the file is open, then after every row")
        XCTAssertTrue(events.allSatisfy(\.createdFile))

        do {  // the reader must be gone before the run is opened for writing again
            let run = try RunReader(url: output)
            XCTAssertEqual(run.complete, Array(repeating: true, count: 12))
            XCTAssertEqual(run.header.datasetSHA256, try datasetDigest(probe.datasetURL))
            XCTAssertEqual(run.samples.map(\.tokenIDs), probe.prepared.map { $0.tokenIDs.map(Int32.init) })
            // Each row is the prober's scores for its sample (same shapes and threads: float rounding at most).
            let prober = QKProber(model: model.transformer, rope: .pre, scale: .none)
            for row in [0, 7, 11] {
                let scores = try prober.score(probe.prepared[row])
                let stored = Array(run.scores(sample: row))
                XCTAssertEqual(stored.count, scores.qk.count)
                for (a, b) in zip(stored, scores.qk) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
                XCTAssertEqual(try run.keys(sample: row).count, scores.keys.count)
            }
            // The stored tables are the outcome's report, computed from every complete row.
            let tables = try XCTUnwrap(run.headTables)
            XCTAssertEqual(tables.accuracy, outcome.report.tables.overall.heads)
            XCTAssertEqual(tables.baselineAccuracy, outcome.report.tables.overall.baseline)
            XCTAssertEqual(outcome.report.tables.overall.count, 12)
        }

        // A resume of the finished run computes nothing and writes the same tables again.
        let resumed = try probe.run(output: output, ifExists: .resume)
        XCTAssertEqual(resumed.computed, 0)
        XCTAssertEqual(resumed.report.tables.overall.heads, outcome.report.tables.overall.heads)
        // Without a policy an existing run is never replaced.
        XCTAssertTrue(message { try probe.run(output: output) }.contains("already exists"))
    }

    func testResumeOfAMissingFileSaysItStartedANewRun() throws {
        let probe = try ProbePipeline(model: try LoadedModel(path: Self.tinyLlama), dataset: try dataset(2),
                                      settings: ProbeSettings(optionToken: .first))
        var first: ProbeProgress?
        try probe.run(output: directory.appendingPathComponent("new.h5"), ifExists: .resume) { first = first ?? $0 }
        XCTAssertEqual(first?.createdFile, true)
        XCTAssertEqual(first?.complete, 0)
    }

    func testNeverWritesOverItsInputs() throws {
        let samples = try dataset(2)
        let probe = try ProbePipeline(model: try LoadedModel(path: Self.tinyLlama), dataset: samples,
                                      settings: ProbeSettings(optionToken: .first))
        let before = try Data(contentsOf: samples)
        let refusal = message { try probe.run(output: samples, ifExists: .overwrite) }
        XCTAssertTrue(refusal.contains("is an input"), refusal)
        let model = URL(fileURLWithPath: Self.tinyLlama).appendingPathComponent("model.safetensors")
        XCTAssertTrue(message { try probe.run(output: model, ifExists: .overwrite) }.contains("is an input"))
        XCTAssertEqual(try Data(contentsOf: samples), before)
    }

    func testSampleErrorsNameTheDatasetFile() throws {
        let model = try LoadedModel(path: Self.tinyLlama)
        // An option of several tokens under the exact policy.
        let multiToken = try dataset(2) { $0.replacingOccurrences(of: "\" False\"", with: "\" Falsehood of it all\"") }
        let error = message { _ = try ProbePipeline(model: model, dataset: multiToken) }
        XCTAssertTrue(error.hasPrefix(multiToken.path), error)
        XCTAssertFalse(error.contains("\n"))

        // A prompt far longer than the context is refused before it is tokenized.
        let long = String(repeating: "Every kwib is slow. ", count: 200_000)
        let huge = try dataset(1) { $0.replacingOccurrences(of: "Every kwib is slow.", with: long) }
        let tooLong = message { _ = try ProbePipeline(model: model, dataset: huge, settings: ProbeSettings(optionToken: .first)) }
        XCTAssertTrue(tooLong.hasPrefix(huge.path) && tooLong.contains("cannot fit the model's context"), tooLong)
    }
}
