import Foundation
import ModelFormats
import XCTest
@testable import Transformer

/// Requests and model files the runtime must refuse with a one-line error naming the file.
final class BadInputTests: XCTestCase {
    private func folder(_ family: String = "tiny-llama") throws -> OpenedModel {
        try OpenedModel.open(path: fixtureURL(family).path)
    }

    private func assertError(_ expression: @autoclosure () throws -> some Any, contains fragments: String...,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            let message = "\(error)"
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "'\(message)' lacks '\(fragment)'", file: file, line: line)
            }
            XCTAssertFalse(message.contains("\n"), file: file, line: line)
        }
    }

    func testPromptsThatCannotRun() throws {
        let model = try Transformer(folder())
        assertError(try model.forward([]), contains: "tiny-llama", "no tokens to run (empty prompt)")
        let context = model.config.contextLength
        assertError(try model.forward(Array(repeating: 5, count: context + 1)),
                    contains: "\(context + 1) tokens exceed the model's context length of \(context)")
        var cache = model.makeCache()
        _ = try model.forward(Array(repeating: 5, count: context - 1), cache: &cache, logits: .none)
        assertError(try model.forward([5, 6], cache: &cache), contains: "2 tokens after \(context - 1) cached exceed")
        XCTAssertEqual(cache.count, context - 1, "a refused pass leaves the cache as it was")
        XCTAssertEqual(try model.generate(prompt: [5], maxNewTokens: 3).count, 3)
        assertError(try model.forward([5, model.config.vocabSize]), contains: "token id \(model.config.vocabSize) is outside the vocabulary")
        assertError(try model.forward([-1]), contains: "token id -1 is outside the vocabulary")

        var otherCache = try Transformer(folder("tiny-qwen2")).makeCache()
        assertError(try model.forward([5], cache: &otherCache), contains: "the KV cache was made for another model")
    }

    func testMissingTensorIsNamed() throws {
        let opened = try folder()
        let source = TamperedSource(base: opened.weights, hidden: ["model.layers.1.mlp.up_proj.weight"])
        assertError(try Transformer(weights: source, config: opened.config),
                    contains: opened.weights.path, "missing tensor model.layers.1.mlp.up_proj.weight (expected shape [128, 64])")

        let gguf = try OpenedModel.open(path: fixtureURL("tiny-qwen2/model.gguf").path)
        let noBias = TamperedSource(base: gguf.weights, hidden: ["blk.0.attn_k.bias"])
        assertError(try Transformer(weights: noBias, config: gguf.config), contains: "model.gguf", "missing tensor blk.0.attn_k.bias")
    }

    func testMisShapedTensorIsNamed() throws {
        let opened = try folder()
        let source = TamperedSource(base: opened.weights, reshaped: ["model.layers.0.self_attn.k_proj.weight": [16, 64]])
        assertError(try Transformer(weights: source, config: opened.config),
                    contains: "tensor model.layers.0.self_attn.k_proj.weight has shape [16, 64], expected [32, 64]")

        // A config that does not fit the weights: more KV heads than the file has.
        var config = opened.config
        config.nKVHeads = 4
        assertError(try Transformer(weights: opened.weights, config: config),
                    contains: "tensor model.layers.0.self_attn.k_proj.weight has shape [32, 64], expected [64, 64]")

        config = opened.config
        config.ropeTheta = 0
        assertError(try Transformer(weights: opened.weights, config: config), contains: "rope_theta is 0.0, must be a finite number above 1")

        let gpt2 = try folder("tiny-gpt2")
        let transposed = TamperedSource(base: gpt2.weights, reshaped: ["transformer.h.1.mlp.c_fc.weight": [256, 64]])
        assertError(try Transformer(weights: transposed, config: gpt2.config),
                    contains: "tensor transformer.h.1.mlp.c_fc.weight has shape [256, 64], expected [64, 256]")
    }
}
