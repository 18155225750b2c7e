import Foundation
import GGUFTestSupport
import ModelFormats
import XCTest
@testable import Transformer

/// Model metadata that is absurd, inconsistent or asks for what the runtime does not compute:
/// each is refused when the model is opened (as every command opens it), with one line naming the
/// file and the field.
final class MalformedModelTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qkprobe-malformed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A copy of a tiny model folder whose config.json has `changes` applied.
    private func folder(_ family: String, _ changes: [String: Any]) throws -> URL {
        let source = try fixtureURL(family)
        let copy = directory.appendingPathComponent("\(family)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for name in ["model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: copy.appendingPathComponent(name))
        }
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as? [String: Any])
        for (key, value) in changes { config[key] = value }
        try JSONSerialization.data(withJSONObject: config).write(to: copy.appendingPathComponent("config.json"))
        return copy
    }

    private func assertRefused(_ family: String, _ changes: [String: Any], _ problem: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let url = try folder(family, changes)
        XCTAssertThrowsError(try OpenedModel.open(path: url.path), "\(changes)", file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(url.path), "\(message) does not name \(url.path)", file: file, line: line)
            XCTAssertTrue(message.contains(problem), "\(message) does not mention \"\(problem)\"", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), file: file, line: line)
        }
    }

    func testTheUnmodifiedCopyOpens() throws {
        XCTAssertNoThrow(try OpenedModel.open(path: folder("tiny-llama", [:]).path))
    }

    /// config.json: sizes that overflow, are absurd, or disagree with each other or the tensors.
    func testAbsurdOrInconsistentSizes() throws {
        let cases: [([String: Any], String)] = [
            (["num_attention_heads": 4_611_686_018_427_387_904], "num_attention_heads is 4611686018427387904, more than the 4096 qkprobe accepts"),
            (["num_attention_heads": 0], "num_attention_heads is 0"),
            (["num_hidden_layers": 1_000_000], "num_hidden_layers is 1000000, more than"),
            (["num_hidden_layers": 3], "missing tensor model.layers.2.self_attn.q_proj.weight"),
            (["num_hidden_layers": 1], "more than 1 layers"),
            (["vocab_size": 1 << 40], "vocab_size is 1099511627776, more than"),
            (["vocab_size": 299], "tensor model.embed_tokens.weight has shape [300, 64], but the configuration implies [299, 64]"),
            (["hidden_size": 63, "head_dim": 16], "has shape [300, 64], but the configuration implies [300, 63]"),
            (["head_dim": 7], "head width 7 is odd"),
            (["head_dim": 8], "tensor model.layers.0.self_attn.q_proj.weight has shape [64, 64], but the configuration implies [32, 64]"),
            (["num_key_value_heads": 3], "not a multiple of the KV head count 3"),
            (["intermediate_size": 0], "intermediate_size is 0"),
            (["max_position_embeddings": 1], "max_position_embeddings is 1"),
            (["rms_norm_eps": 0], "rms_norm_eps is 0.0"),
            (["bos_token_id": 1_000_000_000], "bos_token_id 1000000000 is outside the vocabulary 0..<300"),
            (["eos_token_id": [0, -1]], "eos_token_id -1 is outside the vocabulary"),
        ]
        for (changes, problem) in cases { try assertRefused("tiny-llama", changes, problem) }
    }

    func testRotarySettings() throws {
        let cases: [([String: Any], String)] = [
            (["rope_theta": -1], "rope_theta is -1.0, must be a finite number above 1"),
            (["rope_theta": 0], "rope_theta is 0.0"),
            (["rope_theta": 1e39], "rope_theta is inf"),
            (["partial_rotary_factor": 0.5], "partial_rotary_factor 0.5: partial rotary embedding is not supported"),
            (["rope_scaling": ["rope_type": "dynamic", "factor": 2.0]], "rope_type dynamic (scaled rotary embeddings) is not supported (supported: linear, llama3, yarn)"),
            (["rope_scaling": ["rope_type": "longrope", "factor": 2.0]], "rope_type longrope"),
            (["rope_scaling": ["rope_type": "llama3", "factor": 8.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 32]],
             "rope_type llama3 needs low_freq_factor"),
            (["rope_scaling": ["rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 1.0, "original_max_position_embeddings": 32]],
             "high_freq_factor 1.0 must exceed low_freq_factor 4.0"),
            (["rope_scaling": ["rope_type": "linear", "factor": -2.0]], "rope_scaling factor is -2.0"),
            (["rope_scaling": ["type": "linear"]], "rope_type linear needs factor"),
        ]
        for (changes, problem) in cases { try assertRefused("tiny-llama", changes, problem) }
    }

    /// Settings whose effect the runtime does not compute are refused, not ignored.
    func testWhatIsNotComputedIsRefusedByName() throws {
        try assertRefused("tiny-llama", ["hidden_act": "gelu"], "hidden_act gelu is not supported (this family computes silu)")
        try assertRefused("tiny-llama", ["mlp_bias": true], "mlp_bias true")
        try assertRefused("tiny-llama", ["layer_types": ["sliding_attention", "full_attention"]], "layer_types sliding_attention is not supported")
        try assertRefused("tiny-qwen2", ["use_sliding_window": true, "sliding_window": 16], "use_sliding_window true")
        try assertRefused("tiny-gpt2", ["activation_function": "relu"], "activation_function relu is not supported")
        try assertRefused("tiny-gpt2", ["scale_attn_by_inverse_layer_idx": true], "scale_attn_by_inverse_layer_idx true")
    }

    /// Gemma 3 settings the runtime does not compute, and layer lists that do not fit the model.
    func testGemma3SettingsNotComputedAreRefusedByName() throws {
        try assertRefused("tiny-gemma3", ["final_logit_softcapping": 30.0], "final_logit_softcapping (logit soft-capping) is not supported")
        try assertRefused("tiny-gemma3", ["attn_logit_softcapping": 50.0], "attn_logit_softcapping")
        try assertRefused("tiny-gemma3", ["use_bidirectional_attention": true], "use_bidirectional_attention true")
        try assertRefused("tiny-gemma3", ["hidden_activation": "silu"], "hidden_activation silu is not supported")
        try assertRefused("tiny-gemma3", ["sliding_window": NSNull()], "sliding_window is null")
        try assertRefused("tiny-gemma3", ["sliding_window": 0], "sliding_window is 0, must be positive")
        try assertRefused("tiny-gemma3", ["layer_types": ["sliding_attention"]], "layer_types must list one type per layer (6")
        try assertRefused("tiny-gemma3", ["layer_types": Array(repeating: "chunked_attention", count: 6)], "layer_types chunked_attention is not supported")
        try assertRefused("tiny-gemma3", ["rope_parameters": ["full_attention": ["rope_type": "yarn", "factor": 2.0, "rope_theta": 1000.0]]],
                          "rope_parameters.full_attention.rope_type yarn is not supported for Gemma 3")
        try assertRefused("tiny-gemma3", ["rope_parameters": ["sliding_attention": ["rope_type": "linear", "factor": 2.0, "rope_theta": 1000.0]]],
                          "rope_parameters.sliding_attention.rope_type linear is not supported")
        try assertRefused("tiny-gemma3", ["query_pre_attn_scalar": -1.0], "query_pre_attn_scalar is -1.0")
    }

    /// Mistral's sliding window is read, and prompts longer than it run (TinyModelTests and
    /// SlidingWindowTests check the numbers).
    func testSlidingWindowIsReadAndLongerPromptsRun() throws {
        let url = try folder("tiny-llama", ["model_type": "mistral", "architectures": ["MistralForCausalLM"], "sliding_window": 8])
        let model = try Transformer(path: url.path)
        XCTAssertEqual(model.config.slidingWindow, 8)
        XCTAssertEqual(try model.forward(Array(1 ... 20), logits: .all).logits.positions, Array(0 ..< 20))
        let unwindowed = try folder("tiny-llama", ["model_type": "mistral", "architectures": ["MistralForCausalLM"], "sliding_window": NSNull()])
        XCTAssertNil(try OpenedModel.open(path: unwindowed.path).config.slidingWindow, "a null window is none")
    }

    // MARK: - GGUF metadata

    private let complete: [GGUFBuilder.KeyValue] = [
        .string("general.architecture", "llama"), .uint32("llama.block_count", 1), .uint32("llama.context_length", 8),
        .uint32("llama.embedding_length", 8), .uint32("llama.feed_forward_length", 8),
        .uint32("llama.attention.head_count", 2), .float32("llama.attention.layer_norm_rms_epsilon", 1e-5),
        .stringArray("tokenizer.ggml.tokens", ["a", "b"]),
    ]

    private func with(_ replacements: GGUFBuilder.KeyValue...) -> [GGUFBuilder.KeyValue] {
        let keys = Set(replacements.map(\.key))
        return complete.filter { !keys.contains($0.key) } + replacements
    }

    func testGGUFMetadata() throws {
        let cases: [([GGUFBuilder.KeyValue], String)] = [
            (with(.uint32("llama.rope.dimension_count", 0)), "llama.rope.dimension_count is 0: must equal the head width 4"),
            (with(.uint32("llama.rope.dimension_count", 3)), "llama.rope.dimension_count is 3: must equal the head width 4"),
            (with(.uint32("llama.rope.dimension_count", 2)), "partial rotary embedding (2 of 4 dimensions) is not supported"),
            (with(.uint32("llama.rope.dimension_count", 100_000)), "llama.rope.dimension_count is 100000"),
            (with(.uint32("llama.attention.head_count", 1 << 31)), "llama.attention.head_count is 2147483648, more than"),
            (with(.uint32("llama.attention.head_count_kv", 0)), "llama.attention.head_count_kv is 0, must be positive"),
            (with(.uint32("llama.embedding_length", 7)), "head width 3 is odd"),
            (with(.uint32("llama.block_count", 1_000_000)), "llama.block_count is 1000000, more than"),
            (with(.uint32("llama.context_length", 1)), "llama.context_length is 1"),
            (with(.float32("llama.rope.freq_base", 0)), "llama.rope.freq_base is 0.0"),
            (with(.float32("llama.rope.freq_base", .infinity)), "llama.rope.freq_base is inf"),
            (with(.float32("llama.rope.freq_base", .nan)), "llama.rope.freq_base is nan"),
            (with(.float32("llama.attention.layer_norm_rms_epsilon", -1)), "layer_norm_rms_epsilon is -1.0"),
            (with(.uint32("llama.attention.value_length", 8)), "value_length 8 differs from the key length 4"),
            (with(.uint32("tokenizer.ggml.bos_token_id", 5)), "tokenizer.ggml.bos_token_id is 5, outside the vocabulary 0..<2"),
            (with(.uint32("tokenizer.ggml.eos_token_id", UInt32.max)), "tokenizer.ggml.eos_token_id is 4294967295, outside"),
            (with(.string("llama.rope.scaling.type", "yarn")), "missing metadata llama.rope.scaling.factor"),
            (with(.string("llama.rope.scaling.type", "longrope")), "rope scaling longrope (llama.rope.scaling.type) is not supported"),
        ]
        for (keyValues, problem) in cases { try assertGGUFConfigError(keyValues, problem) }
    }

    func testGGUFWithoutTensorsOrWithTooFewLayers() throws {
        let empty = directory.appendingPathComponent("empty.gguf")
        try GGUFBuilder(keyValues: complete).build().write(to: empty)
        XCTAssertThrowsError(try OpenedModel.open(path: empty.path)) { error in
            XCTAssertEqual("\(error)", "\(empty.path): the file holds no tensors")
        }
        // The tiny Llama's GGUF file with its block count raised: layer 2 has no tensors.
        let gguf = try GGUFFile(url: fixtureURL("tiny-llama/model.gguf"))
        XCTAssertThrowsError(try ModelFamilies.checkTensors(
            { var config = try ModelConfig(gguf: gguf); config.nLayers = 3; return config }(), source: gguf)) { error in
            XCTAssertTrue("\(error)".contains("missing tensor blk.2.attn_q.weight"), "\(error)")
        }
    }
}
