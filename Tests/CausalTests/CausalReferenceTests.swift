import Foundation
import ModelFormats
import Probe
import XCTest
@testable import Causal
import Transformer

/// Ablation and attention scans against transformers (eager attention, the same hooks switched
/// off), from reference/make_causal_fixtures.py.
final class CausalReferenceTests: XCTestCase {
    /// The tiny models live with the transformer tests; this target keeps only its reference outputs.
    static func tinyModelURL(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TransformerTests/Fixtures/\(name)")
    }

    static func fixture(_ name: String) throws -> [String: Any] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "json"), "missing fixture \(name)")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    private static let defaultModel = Result { try Transformer(path: DefaultModel.resolve().path) }

    // MARK: Ablation

    func testAblationMatchesTransformersOnTinyModels() throws {
        for name in ["tiny-llama", "tiny-qwen2", "tiny-gpt2"] {
            try checkAblation(try Transformer(path: Self.tinyModelURL(name).path), try Self.fixture(name), name)
        }
    }

    func testAblationMatchesTransformersOnTheDefaultModel() throws {
        try checkAblation(try Self.defaultModel.get(), try Self.fixture("smollm2"), "smollm2")
    }

    private func checkAblation(_ model: Transformer, _ fixture: [String: Any], _ name: String) throws {
        let reference = try XCTUnwrap(fixture["ablation"] as? [String: Any])
        let prompts = try XCTUnwrap(reference["prompts"] as? [[Int]])
        let options = try XCTUnwrap(reference["options"] as? [[Int]])
        let heads = try XCTUnwrap(reference["heads"] as? [[Int]]).map { HeadID(layer: $0[0], head: $0[1]) }
        let samples = zip(prompts, options).map { AblationSample(tokenIDs: $0, optionIDs: $1, label: 0) }
        var worst = 0.0
        for method in AblationMethod.allCases {
            let result = try AblationExperiment(model: model, heads: heads, method: method).run(samples)
            let clean = try XCTUnwrap(reference["clean"] as? [[Double]])
            let ablated = try XCTUnwrap(reference[method.rawValue] as? [[Double]])
            for (sample, (ours, theirs)) in zip(result.cleanLogits, clean).enumerated() {
                worst = max(worst, try assertLogits(ours, theirs, "\(name) clean sample \(sample)"))
            }
            for (sample, (ours, theirs)) in zip(result.ablatedLogits, ablated).enumerated() {
                worst = max(worst, try assertLogits(ours, theirs, "\(name) \(method.rawValue) sample \(sample)"))
            }
            // The ablation changes something the reference also changed.
            let moved = zip(ablated.joined(), clean.joined()).map { abs($0 - $1) }.max() ?? 0
            XCTAssertGreaterThan(moved, 1e-4, "\(name) \(method.rawValue): the reference ablation changes nothing")
        }
        print("\(name) ablation logits: worst abs error \(worst)")
    }

    /// Logits: 1e-3 absolute or 1e-4 relative, as the forward-pass references.
    @discardableResult
    private func assertLogits(_ ours: [Float], _ theirs: [Double], _ what: String) throws -> Double {
        XCTAssertEqual(ours.count, theirs.count, what)
        var worst = 0.0
        for (a, b) in zip(ours, theirs) {
            let error = abs(Double(a) - b)
            worst = max(worst, error)
            XCTAssertTrue(error <= 1e-3 || error <= 1e-4 * abs(b), "\(what): \(a) against \(b)")
        }
        return worst
    }

    // MARK: Scans

    func testAttentionScansMatchTransformersOnTinyModels() throws {
        for name in ["tiny-llama", "tiny-qwen2", "tiny-gpt2"] {
            try checkScans(try Transformer(path: Self.tinyModelURL(name).path), try Self.fixture(name), name, tolerance: 1e-5)
        }
    }

    func testAttentionScansMatchTransformersOnTheDefaultModel() throws {
        try checkScans(try Self.defaultModel.get(), try Self.fixture("smollm2"), "smollm2", tolerance: 1e-4)
    }

    private func checkScans(_ model: Transformer, _ fixture: [String: Any], _ name: String, tolerance: Double) throws {
        let reference = try XCTUnwrap(fixture["scan"] as? [String: Any])
        let scan = AttentionScan(model: model)
        let previous = try XCTUnwrap(reference["previous_sequences"] as? [[Int]])
        let repeated = try XCTUnwrap(reference["repeated_sequences"] as? [[Int]])
        var worst = 0.0
        for kind in [ScanKind.previousToken, .induction, .duplicateToken] {
            let scores = try scan.scores(kind, sequences: kind == .previousToken ? previous : repeated)
            let expected = try XCTUnwrap(reference[kind.rawValue] as? [[Double]])
            XCTAssertEqual(scores.rows.count, expected.count)
            for (layer, (ours, theirs)) in zip(scores.rows, expected).enumerated() {
                for (head, (a, b)) in zip(ours, theirs).enumerated() {
                    worst = max(worst, abs(a - b))
                    XCTAssertEqual(a, b, accuracy: tolerance, "\(name) \(kind.rawValue) L\(layer)H\(head)")
                }
            }
        }
        print("\(name) scan scores: worst abs error \(worst)")
    }

    // MARK: Retrieval

    func testRetrievalMatchesTransformersOnTinyModels() throws {
        var copies = 0
        for name in ["tiny-llama", "tiny-qwen2", "tiny-gpt2"] {
            copies += try checkRetrieval(try Transformer(path: Self.tinyModelURL(name).path), try Self.fixture(name), name)
        }
        XCTAssertGreaterThan(copies, 0, "no tiny model copies anything: the test checks nothing")
    }

    func testRetrievalMatchesTransformersOnTheDefaultModel() throws {
        let copies = try checkRetrieval(try Self.defaultModel.get(), try Self.fixture("smollm2"), "smollm2")
        XCTAssertGreaterThan(copies, 0, "the default model copies nothing of the needle")
    }

    private func checkRetrieval(_ model: Transformer, _ fixture: [String: Any], _ name: String) throws -> Int {
        let reference = try XCTUnwrap(fixture["retrieval"] as? [String: Any])
        let prompt = try XCTUnwrap(reference["prompt"] as? [Int])
        let needle = try XCTUnwrap(reference["needle"] as? [Int])
        let steps = try XCTUnwrap(reference["max_new_tokens"] as? Int)
        let run = try RetrievalScan(model: model).run(prompt: prompt, needle: needle[0] ..< needle[1], maxNewTokens: steps)
        XCTAssertEqual(run.generated, try XCTUnwrap(reference["generated"] as? [Int]), "\(name) greedy tokens")
        let copied = try XCTUnwrap(reference["copied"] as? [[Int]]).flatMap { $0 }
        XCTAssertEqual(run.copied.map(\.count), copied, "\(name) copies per head")
        return copied.reduce(0, +)
    }
}
