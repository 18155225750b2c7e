import Foundation
import LogicTasks
import ModelFormats
import Tokenizers
import Transformer
import XCTest
@testable import Probe

/// The probe on Gemma 3 270M against QK-scores computed the paper's way with transformers on the
/// same GGUF (reference/make_gemma3_fixtures.py): four samples of probe-samples.jsonl and one
/// prompt of 667 tokens, past the 512-token window of the sliding layers. Tolerances are the
/// default model's (ProbeReferenceTests): scores within 2e-3 + 1e-4·|score|, option logits within
/// 1e-3 + 1e-4·|logit|. Skips when the model is not in the cache.
final class Gemma3ProbeTests: XCTestCase {
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

    private static let loaded = Result { () throws -> (Transformer, Tokenizer)? in
        guard let url = Gemma3Model.cached() else { return nil }
        return (try Transformer(path: url.path), try Tokenizer(gguf: GGUFFile(url: url)))
    }

    private func loaded() throws -> (Transformer, Tokenizer) {
        guard let loaded = try Self.loaded.get() else { throw XCTSkip(Gemma3Model.absentReason) }
        return loaded
    }

    private func reference() throws -> Reference {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/gemma3-probe-reference.json", withExtension: nil))
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    /// Token ids (BOS first), anchors and option ids of the samples as the probe prepares them.
    func testTokensAnchorAndOptionsMatchTransformers() throws {
        let (_, tokenizer) = try loaded()
        let reference = try reference()
        let lines = try String(contentsOf: XCTUnwrap(Bundle.module.url(forResource: "Fixtures/probe-samples.jsonl", withExtension: nil)),
                               encoding: .utf8).split(separator: "\n")
        let prompts = try Dictionary(uniqueKeysWithValues: lines.map { line -> (String, (String, [String])) in
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return (object["id"] as! String, (object["prompt"] as! String, object["options"] as! [String]))
        })
        var checked = 0
        for expected in reference.samples {
            guard let (prompt, options) = prompts[expected.id] else { continue }
            let prepared = try PreparedSample(LogicSample(id: expected.id, prompt: prompt, options: options, label: nil),
                                              template: nil, tokenizer: tokenizer, optionPolicy: .exact)
            XCTAssertEqual(prepared.tokenIDs, expected.token_ids, expected.id)
            XCTAssertEqual(prepared.tokenIDs.first, tokenizer.bosTokenID, "BOS first")
            XCTAssertEqual(prepared.anchor, expected.anchor, expected.id)
            XCTAssertEqual(prepared.optionIDs, expected.option_ids, expected.id)
            checked += 1
        }
        XCTAssertEqual(checked, 4)
    }

    /// Scores and the model's option logits within the default model's tolerances.
    func testScoresMatchTransformersPastTheWindow() throws {
        let (model, _) = try loaded()
        let reference = try reference()
        XCTAssertTrue(reference.samples.contains { $0.token_ids.count > 512 })
        for rotary in RotaryChoice.allCases {
            let prober = QKProber(model: model, rotary: rotary, scale: .none)
            var worst: Float = 0, worstLogit: Float = 0
            for expected in reference.samples {
                let scores = try prober.score(PreparedSample(tokenIDs: expected.token_ids, anchor: expected.anchor,
                                                             optionIDs: expected.option_ids))
                for (o, logit) in expected.option_logits.enumerated() {
                    worstLogit = max(worstLogit, abs(scores.modelLogits[o] - logit))
                    XCTAssertEqual(scores.modelLogits[o], logit, accuracy: 1e-3 + 1e-4 * abs(logit), expected.id)
                }
                let table = rotary == .pre ? expected.qk_pre : expected.qk_post
                for o in table.indices {
                    for l in 0 ..< reference.layers {
                        for h in 0 ..< reference.heads {
                            let want = table[o][l][h], got = scores.qk[(o * reference.layers + l) * reference.heads + h]
                            worst = max(worst, abs(got - want))
                            XCTAssertEqual(got, want, accuracy: 2e-3 + 1e-4 * abs(want), "\(expected.id) o\(o) L\(l)H\(h) \(rotary)")
                        }
                    }
                }
            }
            print("Gemma 3 probe reference, \(rotary)-rotary: largest |score - transformers| = \(worst), |logit - transformers| = \(worstLogit)")
        }
    }
}
