import Foundation
import GGUFTestSupport
import ModelFormats
import XCTest
@testable import Transformer

/// The family registry: each family reads its own keys from GGUF metadata and HF config.json,
/// against what gguf-py and transformers make of the same files.
final class ModelFamilyTests: XCTestCase {
    private func loadJSON(_ name: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL(name)))
        return try XCTUnwrap(object as? [String: Any], name)
    }

    /// `ModelConfig(configJSON:)` against the models transformers builds from the same files
    /// (`reference/make_config_fixtures.py`).
    func testEveryHFConfigMatchesTransformers() throws {
        let expected = try loadJSON("configs/expected.json")
        XCTAssertGreaterThanOrEqual(expected.count, 10)
        for (name, values) in expected {
            let url = try fixtureURL("configs/\(name)/config.json")
            let reference = try JSONDecoder().decode(ModelConfig.self, from: JSONSerialization.data(withJSONObject: values))
            XCTAssertEqual(try ModelConfig(configJSON: url), reference, name)
        }
    }

    /// Files whose hyper-parameters gguf-py's GGUFWriter wrote under its own key names
    /// (`reference/make_gguf_fixtures.py`).
    func testGGUFConfigOfEveryFamily() throws {
        let expected = try loadJSON("gguf-configs/expected.json")
        XCTAssertEqual(Set(expected.keys.map { $0.dropFirst(5).dropLast(5) }), Set(ModelFamilies.all.map { Substring($0.architecture.rawValue) }))
        for (file, values) in expected {
            let reference = try JSONDecoder().decode(ModelConfig.self, from: JSONSerialization.data(withJSONObject: values))
            XCTAssertEqual(try ModelConfig(gguf: GGUFFile(url: fixtureURL("gguf-configs/\(file)"))), reference, file)
        }
    }

    func testRegistryNamesAndCapabilities() throws {
        let names = ModelFamilies.all.map(\.architecture.rawValue)
        XCTAssertEqual(Set(names).count, names.count, "one family per architecture name")
        let modelTypes = ModelFamilies.all.flatMap(\.modelTypes), gguf = ModelFamilies.all.flatMap(\.ggufArchitectures)
        XCTAssertEqual(Set(modelTypes).count, modelTypes.count, "a model_type belongs to one family")
        XCTAssertEqual(Set(gguf).count, gguf.count, "a general.architecture belongs to one family")
        XCTAssertEqual(ModelFamilies.capabilities(of: .gpt2)?.positions, .learned)
        XCTAssertEqual(ModelFamilies.capabilities(of: .qwen3)?.queryKeyNorm, true)
        XCTAssertNil(ModelFamilies.capabilities(of: ArchitectureFamily(rawValue: "mamba")))
        XCTAssertTrue(ModelFamilies.all.filter { $0.capabilities.hasRotaryEmbedding }.count == 4)
        XCTAssertEqual(ModelFamilies.capabilities(of: .gemma3)?.slidingWindow, true)
        XCTAssertEqual(ModelFamilies.capabilities(of: .qwen2)?.slidingWindow, false)
    }

    func testDefaultModelConfigAndReadableName() throws {
        let config = try ModelConfig(gguf: GGUFFile(url: DefaultModel.resolve()))
        XCTAssertEqual(config, ModelConfig(
            architecture: .llama, name: "SmolLM2-135M-Instruct",
            nLayers: 30, dModel: 576, nHeads: 9, nKVHeads: 3, dHead: 64, dFF: 1536,
            vocabSize: 49152, contextLength: 8192, normEps: 1e-5, ropeTheta: 100_000,
            tieWordEmbeddings: true, attentionBias: false))
        // A generic file name gives way to general.name.
        XCTAssertEqual(try ModelConfig(gguf: GGUFFile(url: fixtureURL("tiny-qwen2/model.gguf"))).name,
                       try GGUFFile(url: fixtureURL("tiny-qwen2/model.gguf")).string("general.name"))
    }

    func testOpenedModelsCarryConfigWeightsAndCapabilities() throws {
        let gguf = try OpenedModel.open(path: DefaultModel.resolve().path)
        XCTAssertEqual(gguf.config.nLayers, 30)
        XCTAssertNotNil(gguf.gguf)
        XCTAssertNil(gguf.tokenizerJSON)
        XCTAssertEqual(gguf.weights.shape(of: "token_embd.weight"), [49152, 576])
        XCTAssertEqual(gguf.capabilities?.hasRotaryEmbedding, true)

        let folder = try fixtureURL("tiny-gpt2")
        let model = try OpenedModel.open(path: folder.path)
        XCTAssertEqual(model.config, try ModelConfig(configJSON: folder.appendingPathComponent("config.json")))
        XCTAssertEqual(model.config.architecture, .gpt2)
        XCTAssertEqual(model.capabilities?.positions, .learned)
        XCTAssertEqual(model.tokenizerJSON?.lastPathComponent, "tokenizer.json")
        XCTAssertNil(model.gguf)
    }

    func testGGUFConfigErrorsNameTheKey() throws {
        typealias KV = GGUFBuilder.KeyValue
        let complete: [KV] = [
            .string("general.architecture", "llama"), .uint32("llama.block_count", 1), .uint32("llama.context_length", 8),
            .uint32("llama.embedding_length", 8), .uint32("llama.feed_forward_length", 8),
            .uint32("llama.attention.head_count", 2), .float32("llama.attention.layer_norm_rms_epsilon", 1e-5),
            .stringArray("tokenizer.ggml.tokens", ["a", "b"]),
        ]
        func without(_ key: String) -> [KV] { complete.filter { String(decoding: $0.key, as: UTF8.self) != key } }
        func replacing(_ replacement: KV) -> [KV] { without(String(decoding: replacement.key, as: UTF8.self)) + [replacement] }
        let cases: [([KV], String)] = [
            (without("general.architecture"), "missing metadata general.architecture"),
            (replacing(.string("general.architecture", "mamba")), "unsupported architecture mamba"),
            (without("llama.block_count"), "missing metadata llama.block_count"),
            (without("llama.attention.layer_norm_rms_epsilon"), "missing metadata llama.attention.layer_norm_rms_epsilon"),
            (replacing(.string("llama.block_count", "1")), "llama.block_count is string, expected an integer"),
            (without("tokenizer.ggml.tokens"), "cannot tell the vocabulary size"),
            (replacing(.uint32("llama.attention.head_count", 0)), "llama.attention.head_count is 0"),
            (complete + [.uint32("llama.attention.head_count_kv", 3)], "not a multiple of the KV head count 3"),
            (complete + [.string("llama.rope.scaling.type", "dynamic")], "rope scaling dynamic (llama.rope.scaling.type) is not supported"),
            (complete + [.string("llama.rope.scaling.type", "linear")], "missing metadata llama.rope.scaling.factor"),
        ]
        for (keyValues, problem) in cases {
            try assertGGUFConfigError(keyValues, problem)
        }
        let url = try writeTemporary(GGUFBuilder(keyValues: complete).build(), name: "complete.gguf")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        XCTAssertEqual(try ModelConfig(gguf: GGUFFile(url: url)).vocabSize, 2)
    }

    /// The HF side: unsupported, incomplete or mistyped configs, each a one-line error naming the key.
    func testHFConfigErrorsNameTheKey() throws {
        let cases: [(String, String)] = [
            (#"{"architectures": ["BertModel"], "hidden_size": 8}"#, "unsupported architecture (BertModel)"),
            (#"{"model_type": "bert"}"#, "unsupported architecture (model_type bert)"),
            (#"{"hidden_size": 8}"#, "unsupported architecture (no model_type or architectures entry)"),
            (#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 1, "vocab_size": 10}"#,
             "missing key intermediate_size"),
            (#"{"architectures": ["GPT2LMHeadModel"], "n_embd": 32, "n_head": 4, "vocab_size": 10, "n_positions": 8}"#,
             "missing key n_layer"),
            (#"{"architectures": ["LlamaForCausalLM"], "hidden_size": "32"}"#, "key hidden_size is 32, expected an integer"),
            (#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 32.5}"#, "expected an integer"),
            (#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 32, "num_attention_heads": 0}"#, "num_attention_heads is 0"),
            (#"{"architectures": ["Qwen3ForCausalLM"], "hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": 3, "num_hidden_layers": 1, "vocab_size": 10, "intermediate_size": 8}"#,
             "not a multiple of the KV head count 3"),
            (#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 1, "vocab_size": 10, "intermediate_size": 8, "tie_word_embeddings": 1}"#,
             "expected true or false"),
            ("[1, 2]", "not a JSON object"),
            ("{", "not a JSON object"),
        ]
        for (json, problem) in cases {
            try assertHFConfigError(json, problem)
        }
    }
}

// MARK: - Shared assertions

/// The config read from `keyValues` (a tensor-less GGUF) fails with a message naming the file and `problem`.
func assertGGUFConfigError(_ keyValues: [GGUFBuilder.KeyValue], _ problem: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let url = try writeTemporary(GGUFBuilder(keyValues: keyValues).build(), name: "config.gguf")
    defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
    XCTAssertThrowsError(try ModelConfig(gguf: GGUFFile(url: url)), problem, file: file, line: line) { error in
        XCTAssertEqual((error as? ModelFormatError)?.path, url.path, file: file, line: line)
        XCTAssertTrue("\(error)".contains(problem), "\(error) does not mention \"\(problem)\"", file: file, line: line)
        XCTAssertFalse("\(error)".contains("\n"), file: file, line: line)
    }
}

/// The config.json `json` fails with a message naming the file and `problem`.
func assertHFConfigError(_ json: String, _ problem: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let url = try writeTemporary(Data(json.utf8), name: "config.json")
    defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
    XCTAssertThrowsError(try ModelConfig(configJSON: url), json, file: file, line: line) { error in
        guard let error = error as? ModelFormatError else { return XCTFail("\(error)", file: file, line: line) }
        XCTAssertEqual(error.path, url.path, file: file, line: line)
        XCTAssertTrue(error.problem.contains(problem), "\"\(error.problem)\" does not mention \"\(problem)\"", file: file, line: line)
        XCTAssertFalse(error.problem.contains("\n"), file: file, line: line)
    }
}
