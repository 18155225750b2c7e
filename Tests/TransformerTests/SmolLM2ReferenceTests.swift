import Foundation
import ModelFormats
import XCTest
@testable import Transformer

/// SmolLM2-135M-Instruct (Q4_1 GGUF) against transformers reading the same file.
final class SmolLM2ReferenceTests: XCTestCase {
    /// Loaded once for the class: dequantising 135M weights is the slow part.
    private static let shared = Result { try Transformer(path: DefaultModel.resolve().path) }
    private static let fixture = Result { try ReferenceFixture("smollm2") }

    private func model() throws -> Transformer {
        do { return try Self.shared.get() } catch {
            XCTFail("cannot load the default model: \(error)")
            throw error
        }
    }

    func testLogitsAtEveryPositionMatchTransformers() throws {
        let model = try model(), fixture = try Self.fixture.get()
        let subset = try fixture.ints("vocab_subset")
        var errors = Comparison()
        for prompt in 0 ..< 3 {
            let ids = try fixture.ints("p\(prompt).ids")
            let logits = try model.forward(ids, logits: .all).logits
            let expected = try fixture.floats("p\(prompt).logits_subset").values
            for position in ids.indices {
                let row = try XCTUnwrap(logits.row(at: position))
                errors.elementwise(subset.map { row[row.startIndex + $0] },
                                   expected[position * subset.count ..< (position + 1) * subset.count],
                                   "p\(prompt) @\(position)")
            }
            errors.elementwise(try XCTUnwrap(logits.row(at: ids.count - 1)), try fixture.floats("p\(prompt).logits_last").values,
                               "p\(prompt) last row")
        }
        errors.assertPassed("logits")
        print("default model logits: \(errors)")
    }

    /// q/k/v of every layer before and after rotary: equal to HF's, which needs the GGUF file's
    /// permuted Q/K rows put back in HF order.
    func testQueryKeyValueMatchTransformers() throws {
        let model = try model(), fixture = try Self.fixture.get()
        let ids = try fixture.ints("p2.ids"), positions = try fixture.ints("p2.qkv_positions")
        let hooks = try model.hooks(matching: ["blocks.*.attn.hook_q", "blocks.*.attn.hook_k", "blocks.*.attn.hook_v",
                                               "blocks.*.attn.hook_rot_q", "blocks.*.attn.hook_rot_k"])
        let result = try model.forward(ids, logits: .none, capture: HookCapture(hooks, positions: Set(positions)))
        var errors = Comparison()
        for (array, point) in [("q", HookPoint.query), ("k", .key), ("v", .value), ("rot_q", .rotatedQuery), ("rot_k", .rotatedKey)] {
            let (shape, expected) = try fixture.floats("p2.\(array)")
            let heads = shape[2], dHead = shape[3]
            for layer in 0 ..< model.config.nLayers {
                let activation = try XCTUnwrap(result[HookName(point, layer: layer)])
                XCTAssertEqual(activation.positions, positions)
                for (index, position) in positions.enumerated() {
                    for head in 0 ..< heads {
                        let start = ((layer * positions.count + index) * heads + head) * dHead
                        errors.vector(try XCTUnwrap(activation.vector(at: position, head: head)), expected[start ..< start + dHead],
                                      "L\(layer) \(array) @\(position) head \(head)")
                    }
                }
            }
        }
        errors.assertPassed("q/k/v")
        print("default model q/k/v per head: \(errors)")
    }

    func testGreedyGenerationMatchesTransformers() throws {
        let model = try model(), fixture = try Self.fixture.get()
        let tokens = try model.generate(prompt: fixture.ints("greedy.prompt"), maxNewTokens: 20)
        XCTAssertEqual(tokens, try fixture.ints("greedy.tokens"))
    }

    /// The probe's use: run the prompt once keeping K at the anchor and the last logits, then
    /// each option as one extra token on the cache, keeping its Q, and truncate back. Everything
    /// equals what a full pass over prompt + option gives.
    func testOptionScoringOnTheCacheEqualsFullPasses() throws {
        let model = try model(), fixture = try Self.fixture.get()
        let prompt = try fixture.ints("p2.ids"), anchor = prompt.count - 4
        let keys = try model.hooks(matching: "blocks.*.attn.hook_k")
        let queries = try model.hooks(matching: "blocks.*.attn.hook_rot_q")

        var cache = model.makeCache()
        let promptPass = try model.forward(prompt, cache: &cache, logits: .last, capture: HookCapture(keys, positions: [anchor]))
        let promptLength = cache.count
        var errors = Comparison()
        errors.elementwise(try XCTUnwrap(promptPass.logits.row(at: prompt.count - 1)), try fixture.floats("p2.logits_last").values,
                           "prompt logits")
        for option in [7042, 3575] {
            let optionPass = try model.forward([option], cache: &cache, logits: .none, capture: HookCapture(queries))
            cache.truncate(to: promptLength)
            let full = try model.forward(prompt + [option], logits: .none,
                                         capture: HookCapture(keys.union(queries), positions: [anchor, prompt.count]))
            for layer in 0 ..< model.config.nLayers {
                let q = try XCTUnwrap(optionPass[HookName(.rotatedQuery, layer: layer)])
                XCTAssertEqual(q.positions, [prompt.count])
                errors.vector(q.values, try XCTUnwrap(full[HookName(.rotatedQuery, layer: layer)]?.row(at: prompt.count)),
                              relative: 1e-5, "Q L\(layer)")
                errors.vector(try XCTUnwrap(promptPass[HookName(.key, layer: layer)]).values,
                              try XCTUnwrap(full[HookName(.key, layer: layer)]?.row(at: anchor)), relative: 1e-5, "K L\(layer)")
            }
        }
        XCTAssertEqual(cache.count, prompt.count)
        errors.assertPassed("cached option scoring")
    }
}
