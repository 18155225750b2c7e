import Foundation
import ModelFormats
import XCTest
@testable import Transformer

/// The tiny random-weight models of reference/make_runtime_fixtures.py, each read from its HF
/// folder (safetensors) and from its llama.cpp-style GGUF file, against transformers' outputs.
final class TinyModelTests: XCTestCase {
    static let families = ["tiny-llama", "tiny-qwen2", "tiny-qwen3", "tiny-gpt2"]

    static func load(_ family: String, gguf: Bool) throws -> Transformer {
        let folder = try fixtureURL(family)
        return try Transformer(path: gguf ? folder.appendingPathComponent("model.gguf").path : folder.path)
    }

    func testFolderModelsMatchTransformers() throws {
        for family in Self.families {
            try checkAgainstReference(Self.load(family, gguf: false), ReferenceFixture(family), label: "\(family) folder")
        }
    }

    func testGGUFModelsMatchTransformers() throws {
        for family in Self.families {
            try checkAgainstReference(Self.load(family, gguf: true), ReferenceFixture(family), label: "\(family) gguf")
        }
    }

    /// Scaled rotary embeddings (transformers' `rope_type` llama3, linear, yarn) on one-layer models
    /// whose second prompt (93 tokens) runs past the original context of 32; the GGUF files carry
    /// llama.cpp's forms (`rope_freqs.weight` for llama3, `rope.scaling.*` keys for linear and yarn).
    static let scaledRotaryFamilies = ["tiny-llama3-rope", "tiny-llama-linear-rope", "tiny-qwen2-yarn-rope"]

    func testScaledRotaryModelsMatchTransformers() throws {
        for family in Self.scaledRotaryFamilies {
            for gguf in [false, true] {
                try checkAgainstReference(Self.load(family, gguf: gguf), ReferenceFixture(family),
                                          label: "\(family) \(gguf ? "gguf" : "folder")")
            }
        }
        let expected: [String: String] = ["tiny-llama3-rope": "llama3", "tiny-llama-linear-rope": "linear",
                                          "tiny-qwen2-yarn-rope": "yarn"]
        for (family, type) in expected {
            XCTAssertEqual(try Self.load(family, gguf: false).config.ropeScaling?.typeName, type)
            XCTAssertEqual(try Self.load(family, gguf: true).config.ropeScaling?.typeName, type)
        }
        XCTAssertEqual(try Self.load("tiny-llama3-rope", gguf: true).config.ropeScaling, .frequencyDivisors)
    }

    /// Sliding-window attention against transformers (eager attention) on prompts of 25 and 93
    /// tokens, past the window of 8: a Mistral (every layer windowed) and a Gemma 3 (five windowed
    /// layers with the local rotary base, then a global one with its own base and linear scaling;
    /// q/k norms, post-norms, GeGLU, embedding scale), each from its folder and its GGUF file.
    static let slidingWindowFamilies = ["tiny-mistral", "tiny-gemma3"]

    func testSlidingWindowModelsMatchTransformers() throws {
        for family in Self.slidingWindowFamilies {
            for gguf in [false, true] {
                let model = try Self.load(family, gguf: gguf)
                XCTAssertEqual(model.config.slidingWindow, 8, family)
                XCTAssertGreaterThan(try ReferenceFixture(family).ints("p1.ids").count, 3 * 8)
                try checkAgainstReference(model, ReferenceFixture(family), label: "\(family) \(gguf ? "gguf" : "folder")")
            }
        }
    }

    func testSlidingWindowConfigurationsAreRead() throws {
        for gguf in [false, true] {
            let mistral = try Self.load("tiny-mistral", gguf: gguf)
            XCTAssertEqual(mistral.config.architecture, .llama)
            XCTAssertEqual((0 ..< mistral.config.nLayers).map(mistral.slidingWindow), [8, 8])
            XCTAssertNil(mistral.localRotary)
            XCTAssertEqual(mistral.attention.scale, 1 / Float(16).squareRoot())

            let gemma = try Self.load("tiny-gemma3", gguf: gguf)
            XCTAssertEqual(gemma.config.architecture, .gemma3)
            XCTAssertEqual((0 ..< gemma.config.nLayers).map(gemma.slidingWindow), [8, 8, 8, 8, 8, nil])
            XCTAssertEqual(gemma.config.slidingWindowLayers, [0, 1, 2, 3, 4])
            XCTAssertEqual(gemma.config.ropeTheta, 1000)
            XCTAssertEqual(gemma.config.localRopeTheta, 10000)
            XCTAssertEqual(gemma.config.ropeScaling, .linear(factor: 2))
            XCTAssertEqual(gemma.config.queryPreAttentionScalar, 16)
            XCTAssertEqual(gemma.capabilities.activation, .gatedGELUTanh)
            XCTAssertTrue(gemma.capabilities.queryKeyNorm)
        }
    }

    func testConfigurationsAreRead() throws {
        let qwen3 = try Self.load("tiny-qwen3", gguf: false)
        XCTAssertEqual(qwen3.config.architecture, .qwen3)
        XCTAssertEqual(qwen3.config.dHead, 32)
        let qwen2 = try Self.load("tiny-qwen2", gguf: true)
        XCTAssertEqual(qwen2.config.architecture, .qwen2)
        XCTAssertTrue(qwen2.config.attentionBias)
        XCTAssertEqual(try Self.load("tiny-gpt2", gguf: false).config.architecture, .gpt2)
    }

    /// Logits at every position, hidden states, q/k/v before and after rotary, attention patterns
    /// and 20 greedy tokens.
    private func checkAgainstReference(_ model: Transformer, _ fixture: ReferenceFixture, label: String) throws {
        let config = model.config
        var logitErrors = Comparison(), qkvErrors = Comparison(), hiddenErrors = Comparison(), patternErrors = Comparison()
        for prompt in 0 ..< 2 {
            let ids = try fixture.ints("p\(prompt).ids")
            let result = try model.forward(ids, logits: .all, capture: HookCapture(Set(model.hookNames)))
            let expectedLogits = try fixture.floats("p\(prompt).logits").values
            logitErrors.elementwise(result.logits.values, expectedLogits, "\(label) p\(prompt) logits")

            let positions = try fixture.ints("p\(prompt).qkv_positions")
            XCTAssertEqual(positions, Array(ids.indices))
            var kinds: [(String, HookPoint)] = [("q", .query), ("k", .key), ("v", .value)]
            if model.capabilities.hasRotaryEmbedding { kinds += [("rot_q", .rotatedQuery), ("rot_k", .rotatedKey)] }
            for (array, point) in kinds {
                let (shape, expected) = try fixture.floats("p\(prompt).\(array)")
                let vectorSize = shape[2] * shape[3]
                for layer in 0 ..< config.nLayers {
                    let actual = try XCTUnwrap(result[HookName(point, layer: layer)], "\(label) \(point)")
                    XCTAssertEqual(actual.shape, Array(shape.dropFirst()))
                    for position in positions {
                        let start = (layer * positions.count + position) * vectorSize
                        qkvErrors.vector(actual.values[position * vectorSize ..< (position + 1) * vectorSize],
                                         expected[start ..< start + vectorSize], "\(label) p\(prompt) L\(layer) \(array) @\(position)")
                    }
                }
            }

            // HF's hidden_states: the embeddings, each block's output but the last, then the final norm.
            let (hiddenShape, hidden) = try fixture.floats("p\(prompt).hidden")
            let hooks = [HookName(.residPre, layer: 0)] + (0 ..< config.nLayers - 1).map { HookName(.residPost, layer: $0) }
                + [HookName(.finalNormalized)]
            XCTAssertEqual(hiddenShape[0], hooks.count)
            let width = config.dModel
            for (index, hook) in hooks.enumerated() {
                let actual = try XCTUnwrap(result[hook])
                for position in ids.indices {
                    let start = (index * ids.count + position) * width
                    hiddenErrors.vector(actual.values[position * width ..< (position + 1) * width],
                                        hidden[start ..< start + width], "\(label) p\(prompt) \(hook) @\(position)")
                }
            }

            let (patternShape, pattern) = try fixture.floats("p\(prompt).pattern")
            XCTAssertEqual(patternShape, [config.nLayers, config.nHeads, ids.count, ids.count])
            for layer in 0 ..< config.nLayers {
                let actual = try XCTUnwrap(result[HookName(.pattern, layer: layer)])
                let size = config.nHeads * ids.count * ids.count
                patternErrors.elementwise(actual.values, pattern[layer * size ..< (layer + 1) * size],
                                          absolute: 1e-5, relative: 0, "\(label) p\(prompt) L\(layer) pattern")
            }
        }
        logitErrors.assertPassed("\(label) logits")
        qkvErrors.assertPassed("\(label) q/k/v")
        hiddenErrors.assertPassed("\(label) hidden states")
        patternErrors.assertPassed("\(label) patterns")
        print("\(label): logits \(logitErrors); q/k/v \(qkvErrors); hidden \(hiddenErrors); pattern \(patternErrors)")

        let generated = try model.generate(prompt: fixture.ints("greedy.prompt"), maxNewTokens: 20)
        XCTAssertEqual(generated, try fixture.ints("greedy.tokens"), "\(label) greedy tokens")
    }
}
