import Foundation
import ModelFormats
import Transformer
import XCTest

final class InspectCommandTests: XCTestCase {
    private func inspectJSON(_ arguments: [String]) throws -> [String: Any] {
        let result = try CLI.run(["inspect", "--format", "json"] + arguments)
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "--format json prints one line: \(result.stdout)")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    /// The default model, checked against the library's own reading of it.
    func testJSONOfTheDefaultModel() throws {
        let json = try inspectJSON([])
        let url = try DefaultModel.resolve()
        let gguf = try GGUFFile(url: url)
        let config = try ModelConfig(gguf: gguf)
        XCTAssertEqual(json["path"] as? String, url.standardizedFileURL.path)
        XCTAssertEqual(json["format"] as? String, "gguf")
        XCTAssertEqual(json["gguf_version"] as? Int, 3)
        XCTAssertEqual(json["sha256"] as? String, DefaultModel.sha256)
        XCTAssertEqual(json["architecture"] as? String, "llama")
        XCTAssertEqual(json["name"] as? String, config.name)
        let integers: [(String, Int)] = [
            ("n_layers", config.nLayers), ("d_model", config.dModel), ("n_heads", config.nHeads),
            ("n_kv_heads", config.nKVHeads), ("d_head", config.dHead), ("d_ff", config.dFF),
            ("vocab_size", config.vocabSize), ("context_length", config.contextLength),
            ("tensor_count", gguf.tensorInfos.count),
            ("parameter_count", gguf.tensorInfos.reduce(0) { $0 + $1.elementCount }),
        ]
        for (key, value) in integers { XCTAssertEqual(json[key] as? Int, value, key) }
        XCTAssertEqual((json["norm_eps"] as? NSNumber)?.floatValue, config.normEps)
        XCTAssertEqual((json["rope_theta"] as? NSNumber)?.floatValue, config.ropeTheta)
        XCTAssertEqual(json["tie_word_embeddings"] as? Bool, true)
        XCTAssertEqual(json["attention_bias"] as? Bool, false)
        let byType = Dictionary(gguf.tensorInfos.map { ($0.type.description, 1) }, uniquingKeysWith: +)
        XCTAssertEqual(json["tensors_by_type"] as? [String: Int], byType)
        let tokenizer = try XCTUnwrap(json["tokenizer"] as? [String: Any])
        XCTAssertEqual(tokenizer["source"] as? String, "gguf")
        XCTAssertEqual(tokenizer["model"] as? String, gguf.string("tokenizer.ggml.model"))
        XCTAssertEqual(tokenizer["pre"] as? String, gguf.string("tokenizer.ggml.pre"))
        XCTAssertEqual(tokenizer["token_count"] as? Int, gguf.arrayCount("tokenizer.ggml.tokens"))
    }

    func testJSONOfAModelFolder() throws {
        let folder = CLI.packageRoot.appendingPathComponent("Tests/ModelFormatsTests/Fixtures/safetensors/tiny-llama")
        let json = try inspectJSON(["--model", folder.path])
        XCTAssertEqual(json["format"] as? String, "huggingface")
        XCTAssertNil(json["gguf_version"])
        XCTAssertEqual(json["sha256"] as? String, try ModelLocation.huggingFaceFolder(folder).sha256())
        XCTAssertEqual(json["n_layers"] as? Int, try ModelConfig(configJSON: folder.appendingPathComponent("config.json")).nLayers)
        XCTAssertEqual(json["tensors_by_type"] as? [String: Int], ["BF16": try SafetensorsCheckpoint(url: folder).tensorNames.count])
        let tokenizer = try XCTUnwrap(json["tokenizer"] as? [String: Any])
        XCTAssertEqual(tokenizer["source"] as? String, "tokenizer.json")
        XCTAssertEqual(tokenizer["model"] as? String, "BPE")
        XCTAssertEqual(tokenizer["pre"] as? String, "ByteLevel")
    }

    func testTableAndBadPaths() throws {
        let table = try CLI.run(["inspect"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains(DefaultModel.sha256), table.stdout)

        let missing = try CLI.run(["inspect", "--model", "/nonexistent/model.gguf"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertEqual(missing.stdout, "")
        XCTAssertEqual(missing.stderr.trimmingCharacters(in: .newlines), "Error: /nonexistent/model.gguf: no such file or folder")

        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let broken = directory.appendingPathComponent("broken.gguf")
        try Data("GGUF\u{3}\0\0\0".utf8).write(to: broken)
        let truncated = try CLI.run(["inspect", "--model", broken.path])
        XCTAssertNotEqual(truncated.status, 0)
        XCTAssertTrue(truncated.stderr.hasPrefix("Error: \(broken.path): truncated"), truncated.stderr)
        XCTAssertEqual(truncated.stderr.split(separator: "\n").count, 1, truncated.stderr)
    }

    /// Malformed model metadata (more cases in TransformerTests.MalformedModelTests): inspect refuses
    /// it with one line naming the file and the field, as every other command does.
    func testMalformedMetadataIsRefusedByInspect() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = CLI.packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/tiny-llama")
        let cases: [(String, Any, String)] = [
            ("num_attention_heads", 4_611_686_018_427_387_904, "num_attention_heads is 4611686018427387904"),
            ("num_hidden_layers", 3, "missing tensor model.layers.2.self_attn.q_proj.weight"),
            ("hidden_act", "gelu", "hidden_act gelu is not supported"),
            ("rope_scaling", ["rope_type": "dynamic", "factor": 2.0], "rope_type dynamic"),
            ("bos_token_id", 1_000_000_000, "bos_token_id 1000000000 is outside the vocabulary"),
        ]
        for (index, (key, value, problem)) in cases.enumerated() {
            let folder = directory.appendingPathComponent("model-\(index)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for name in ["model.safetensors", "tokenizer.json"] {
                try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            }
            var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as? [String: Any])
            config[key] = value
            let configURL = folder.appendingPathComponent("config.json")
            try JSONSerialization.data(withJSONObject: config).write(to: configURL)
            let result = try CLI.run(["inspect", "--model", folder.path])
            XCTAssertNotEqual(result.status, 0, key)
            XCTAssertEqual(result.stdout, "", key)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("Error: \(folder.path)"), result.stderr)
            XCTAssertTrue(result.stderr.contains(problem), result.stderr)
        }
    }
}
