import Foundation
import LogicTasks
import ModelFormats
import Tokenizers
import Transformer
import XCTest
@testable import Probe

/// The probe against QK-scores computed the paper's way with transformers
/// (reference/make_probe_fixtures.py: one full pass per option, hooks on the projections).
final class ProbeReferenceTests: XCTestCase {
    struct Reference: Decodable {
        struct Sample: Decodable {
            let id: String
            let token_ids: [Int]
            let anchor: Int
            let option_ids: [Int]
            let option_logits: [Float]
            let qk_pre: [[[Float]]]
            let qk_post: [[[Float]]]
        }
        let layers: Int
        let heads: Int
        let samples: [Sample]
    }

    private static let model = Result { try Transformer(path: DefaultModel.resolve().path) }
    private static let tokenizer = Result { try Tokenizer(gguf: GGUFFile(url: DefaultModel.resolve())) }

    private func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    }

    /// The samples as the plain-prompt lines of the fixture (each line keeps its own options).
    private func samples() throws -> [LogicSample] {
        let lines = try String(contentsOf: fixture("probe-samples.jsonl"), encoding: .utf8).split(separator: "\n")
        return try lines.map { line in
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return LogicSample(id: object["id"] as! String, prompt: object["prompt"] as? String,
                               options: object["options"] as! [String], label: object["label"] as? Int)
        }
    }

    private func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixture("probe-reference.json")))
    }

    func testTokensAnchorAndOptionsMatchTransformers() throws {
        let tokenizer = try Self.tokenizer.get()
        let reference = try reference()
        let samples = try samples()
        XCTAssertEqual(samples.count, reference.samples.count)
        for (sample, expected) in zip(samples, reference.samples) {
            let prepared = try PreparedSample(sample, template: nil, tokenizer: tokenizer, optionPolicy: .exact)
            XCTAssertEqual(prepared.tokenIDs, expected.token_ids, sample.id)
            XCTAssertEqual(prepared.anchor, expected.anchor, sample.id)
            XCTAssertEqual(prepared.optionIDs, expected.option_ids, sample.id)
        }
    }

    /// Scores within 2e-3 + 1e-4·|score|, logits within 1e-3 + 1e-4·|logit|: float32 sums in a
    /// different order over 30 layers, on scores of magnitude ~10-100.
    func testScoresAndModelLogitsMatchTransformers() throws {
        let model = try Self.model.get()
        let reference = try reference()
        for rotary in QKRope.allCases {
            let prober = QKProber(model: model, rope: rotary, scale: .none)
            var worst: Float = 0
            for expected in reference.samples {
                let scores = try prober.score(PreparedSample(tokenIDs: expected.token_ids, anchor: expected.anchor,
                                                             optionIDs: expected.option_ids))
                for (o, logit) in expected.option_logits.enumerated() {
                    XCTAssertEqual(scores.modelLogits[o], logit, accuracy: 1e-3 + 1e-4 * abs(logit), expected.id)
                }
                let table = rotary == .pre ? expected.qk_pre : expected.qk_post
                for o in table.indices {
                    for l in 0..<reference.layers {
                        for h in 0..<reference.heads {
                            let want = table[o][l][h]
                            let got = scores.qk[(o * reference.layers + l) * reference.heads + h]
                            worst = max(worst, abs(got - want))
                            XCTAssertEqual(got, want, accuracy: 2e-3 + 1e-4 * abs(want), "\(expected.id) o\(o) L\(l)H\(h) \(rotary)")
                        }
                    }
                }
            }
            print("probe reference, \(rotary)-rotary: largest |score - transformers| = \(worst)")
        }
    }

    func testScaledScoresAreTheUnscaledTimesTheFactor() throws {
        let model = try Self.model.get()
        let expected = try reference().samples[0]
        let sample = PreparedSample(tokenIDs: expected.token_ids, anchor: expected.anchor, optionIDs: expected.option_ids)
        let plain = try QKProber(model: model, rope: .pre, scale: .none).score(sample)
        let scaled = try QKProber(model: model, rope: .pre, scale: .sqrt).score(sample)
        XCTAssertEqual(scaled.queries, plain.queries)
        for (a, b) in zip(scaled.qk, plain.qk) { XCTAssertEqual(a, b / 8, accuracy: 1e-5 * max(1, abs(b))) }
    }
}
