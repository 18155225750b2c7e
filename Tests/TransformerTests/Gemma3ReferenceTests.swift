import Foundation
import ModelFormats
import XCTest
@testable import Transformer

/// Gemma 3 270M (Q4_K_M GGUF) against transformers reading the same file
/// (reference/make_gemma3_fixtures.py): logits, q/k/v before and after rotary, greedy tokens, on
/// prompts of 6, 86 and 667 tokens (past the 512-token window of five layers in six).
/// Tolerances are SmolLM2ReferenceTests' (Comparison's defaults): logits within 1e-3 absolute or
/// 1e-4 relative, q/k/v per vector within 1e-4 of its largest |value|. Skips when the model is not
/// in the cache.
final class Gemma3ReferenceTests: XCTestCase {
    private static let shared = Result { () throws -> Transformer? in
        try Gemma3Model.cached().map { try Transformer(path: $0.path) }
    }
    private static let fixture = Result { try ReferenceFixture("gemma3") }

    private func model() throws -> Transformer {
        guard let model = try Self.shared.get() else { throw XCTSkip(Gemma3Model.absentReason) }
        return model
    }

    func testConfigurationAndLayerTypes() throws {
        let model = try model()
        let config = model.config
        XCTAssertEqual(config.architecture, .gemma3)
        XCTAssertEqual([config.nLayers, config.dModel, config.nHeads, config.nKVHeads, config.dHead, config.vocabSize],
                       [18, 640, 4, 1, 256, 262_144])
        XCTAssertEqual(config.slidingWindow, 512)
        // Every sixth layer attends globally with the global rotary base.
        let windows = (0 ..< config.nLayers).map { model.slidingWindow($0) }
        XCTAssertEqual(windows, (0 ..< 18).map { ($0 + 1) % 6 == 0 ? nil : 512 })
        XCTAssertEqual(config.ropeTheta, 1_000_000)
        XCTAssertEqual(config.localRopeTheta, 10000)
        XCTAssertNil(config.ropeScaling)
        XCTAssertEqual(model.attention.scale, 1 / 16)
        XCTAssertTrue(config.tieWordEmbeddings)
        XCTAssertEqual(model.capabilities, ModelFamilies.capabilities(of: .gemma3))
    }

    /// Logits for a fixed subset of the vocabulary (and each position's argmax) at every position
    /// of the short prompts and at positions across the long one, and the 64 largest at the last.
    func testLogitsMatchTransformers() throws {
        let model = try model(), fixture = try Self.fixture.get()
        let subset = try fixture.ints("vocab_subset")
        var errors = Comparison()
        for prompt in 0 ..< 3 {
            let ids = try fixture.ints("p\(prompt).ids"), positions = try fixture.ints("p\(prompt).logits_positions")
            let logits = try model.forward(ids, logits: .positions(positions + [ids.count - 1])).logits
            let expected = try fixture.floats("p\(prompt).logits_subset").values
            for (index, position) in positions.enumerated() {
                let row = try XCTUnwrap(logits.row(at: position))
                errors.elementwise(subset.map { row[row.startIndex + $0] },
                                   expected[index * subset.count ..< (index + 1) * subset.count], "p\(prompt) @\(position)")
            }
            let last = try XCTUnwrap(logits.row(at: ids.count - 1))
            let topIDs = try fixture.ints("p\(prompt).top_ids")
            errors.elementwise(topIDs.map { last[last.startIndex + $0] }, try fixture.floats("p\(prompt).top_logits").values,
                               "p\(prompt) top logits")
            XCTAssertEqual(Transformer.argmax(Array(last)), topIDs[0], "p\(prompt) next token")
        }
        errors.assertPassed("logits")
        print("Gemma 3 logits (prompts of \(try (0 ..< 3).map { try fixture.ints("p\($0).ids").count }) tokens): \(errors)")
    }

    /// q, k (after q_norm / k_norm), v, and q, k after rotary (local base on sliding layers,
    /// global on the others), at positions before and after the window's reach.
    func testQueryKeyValueMatchTransformers() throws {
        let model = try model(), fixture = try Self.fixture.get()
        var errors = Comparison()
        for prompt in [1, 2] {
            let ids = try fixture.ints("p\(prompt).ids"), positions = try fixture.ints("p\(prompt).qkv_positions")
            let hooks = try model.hooks(matching: ["blocks.*.attn.hook_q", "blocks.*.attn.hook_k", "blocks.*.attn.hook_v",
                                                   "blocks.*.attn.hook_rot_q", "blocks.*.attn.hook_rot_k"])
            let result = try model.forward(ids, logits: .none, capture: HookCapture(hooks, positions: Set(positions)))
            for (array, point) in [("q", HookPoint.query), ("k", .key), ("v", .value), ("rot_q", .rotatedQuery), ("rot_k", .rotatedKey)] {
                let (shape, expected) = try fixture.floats("p\(prompt).\(array)")
                let heads = shape[2], dHead = shape[3]
                for layer in 0 ..< model.config.nLayers {
                    let activation = try XCTUnwrap(result[HookName(point, layer: layer)])
                    for (index, position) in positions.enumerated() {
                        for head in 0 ..< heads {
                            let start = ((layer * positions.count + index) * heads + head) * dHead
                            errors.vector(try XCTUnwrap(activation.vector(at: position, head: head)), expected[start ..< start + dHead],
                                          "p\(prompt) L\(layer) \(array) @\(position) head \(head)")
                        }
                    }
                }
            }
        }
        errors.assertPassed("q/k/v")
        print("Gemma 3 q/k/v per head: \(errors)")
    }

    func testGreedyGenerationMatchesTransformers() throws {
        let model = try model(), fixture = try Self.fixture.get()
        XCTAssertEqual(try model.generate(prompt: fixture.ints("greedy.prompt"), maxNewTokens: 10), try fixture.ints("greedy.tokens"))
    }
}
