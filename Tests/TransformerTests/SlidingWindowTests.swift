import Foundation
import ModelFormats
import XCTest
@testable import Transformer

/// Sliding-window attention on the tiny random-weight Mistral and Gemma 3 of
/// reference/make_runtime_fixtures.py (window 8, prompts of 25 and 93 tokens): the forward pass
/// against transformers is in TinyModelTests; here the window's other paths: the KV cache, branches
/// past the window, the attention kernel's masks, and the cost estimate.
final class SlidingWindowTests: XCTestCase {
    /// A prompt run in pieces on the cache gives transformers' logits of one pass over all of it.
    func testCachedPiecesMatchTransformers() throws {
        for family in TinyModelTests.slidingWindowFamilies {
            let model = try TinyModelTests.load(family, gguf: false), fixture = try ReferenceFixture(family)
            let ids = try fixture.ints("p1.ids"), expected = try fixture.floats("p1.logits").values
            let vocabulary = model.config.vocabSize
            var cache = model.makeCache()
            var errors = Comparison()
            var start = 0
            for end in [5, 13, 14, 30, ids.count] {
                let pass = try model.forward(Array(ids[start ..< end]), cache: &cache, logits: .all)
                errors.elementwise(pass.logits.values, expected[start * vocabulary ..< end * vocabulary], "\(family) cached \(start)..<\(end)")
                start = end
            }
            errors.assertPassed("\(family) cached pieces")
        }
    }

    /// Branches after a prompt longer than the window: each the same as a full pass over the
    /// prompt and that one token (1e-5 of each vector's scale: the two passes differ in shape).
    func testBranchesPastTheWindowEqualFullPasses() throws {
        for family in TinyModelTests.slidingWindowFamilies {
            let model = try TinyModelTests.load(family, gguf: false), fixture = try ReferenceFixture(family)
            let prompt = try fixture.ints("p1.ids"), options = [7, 42, 101]
            let hooks = try model.hooks(matching: ["blocks.*.attn.hook_rot_q", "blocks.*.hook_resid_post"])
            var cache = model.makeCache()
            let branched = try model.forward(prompt, branches: options, cache: &cache, logits: .none, vocabulary: options,
                                             capture: HookCapture(hooks, positions: Set(prompt.count ..< prompt.count + options.count)))
            var errors = Comparison()
            for (b, option) in options.enumerated() {
                let full = try model.forward(prompt + [option], logits: .last, capture: HookCapture(hooks, positions: [prompt.count]))
                for layer in 0 ..< model.config.nLayers {
                    for point in [HookPoint.rotatedQuery, .residPost] {
                        errors.vector(try XCTUnwrap(branched[HookName(point, layer: layer)]?.row(at: prompt.count + b)),
                                      try XCTUnwrap(full[HookName(point, layer: layer)]?.row(at: prompt.count)),
                                      relative: 1e-5, "\(family) branch \(b) L\(layer) \(point)")
                    }
                }
            }
            errors.assertPassed("\(family) branches past the window")
        }
    }

    /// The pattern of a windowed layer: each query's probabilities sum to 1 over exactly the last
    /// `window` positions up to its own, and are 0 elsewhere.
    func testPatternsCoverExactlyTheWindow() throws {
        let model = try TinyModelTests.load("tiny-gemma3", gguf: false)
        let ids = try ReferenceFixture("tiny-gemma3").ints("p1.ids")
        let result = try model.forward(ids, logits: .none, capture: HookCapture(try model.hooks(matching: "blocks.*.attn.hook_pattern")))
        for layer in 0 ..< model.config.nLayers {
            let pattern = try XCTUnwrap(result[HookName(.pattern, layer: layer)]).values
            let window = model.slidingWindow(layer) ?? ids.count
            for head in 0 ..< model.config.nHeads {
                for query in ids.indices {
                    let row = pattern[(head * ids.count + query) * ids.count ..< (head * ids.count + query + 1) * ids.count]
                    let visible = max(0, query - window + 1) ... query
                    for (key, p) in zip(0..., row) where !visible.contains(key) {
                        XCTAssertEqual(p, 0, "L\(layer) H\(head) query \(query) key \(key)")
                    }
                    XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
                    XCTAssertTrue(visible.allSatisfy { row[row.startIndex + $0] > 0 }, "L\(layer) H\(head) query \(query)")
                }
            }
        }
    }

    /// The cost estimate counts only the keys a windowed query sees.
    func testFLOPsCountTheWindow() throws {
        let mistral = try TinyModelTests.load("tiny-mistral", gguf: false)
        let config = mistral.config
        let short = mistral.forwardFLOPs(tokens: 8), long = mistral.forwardFLOPs(tokens: 100)
        let perKey = 4 * Double(config.dHead * config.nHeads) * Double(config.nLayers)
        let perToken = (long - short) / 92 - 8 * perKey
        // Beyond the window each new token costs the same: weights plus 8 keys.
        XCTAssertEqual(mistral.forwardFLOPs(tokens: 101) - long, perToken + 8 * perKey, accuracy: 1)
    }
}
