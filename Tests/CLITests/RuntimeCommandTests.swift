import Foundation
import XCTest

/// `generate`, `trace` and `bench` against the transformer runtime's reference fixtures
/// (reference/make_runtime_fixtures.py: Hugging Face transformers on the same model files).
final class RuntimeCommandTests: XCTestCase {
    private static let fixtures = CLI.packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures")

    /// The reference arrays of one fixture folder (float32 / int32, offsets in reference.json).
    private struct Reference {
        let arrays: [String: [String: Any]]
        let blob: Data

        init(_ folder: String) throws {
            let directory = RuntimeCommandTests.fixtures.appendingPathComponent(folder)
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("reference.json")))
            arrays = try XCTUnwrap((manifest as? [String: Any])?["arrays"] as? [String: [String: Any]])
            blob = try Data(contentsOf: directory.appendingPathComponent("reference.bin"))
        }

        private func bytes(_ name: String) throws -> Data {
            let entry = try XCTUnwrap(arrays[name], name)
            let count = try XCTUnwrap(entry["shape"] as? [Int]).reduce(1, *)
            let offset = try XCTUnwrap(entry["offset"] as? Int)
            return blob[offset ..< offset + 4 * count]
        }

        func floats(_ name: String) throws -> [Float] {
            try bytes(name).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }

        func ints(_ name: String) throws -> [Int] {
            try bytes(name).withUnsafeBytes { $0.bindMemory(to: Int32.self).map(Int.init) }
        }
    }

    func testChatGenerationAnswersParisAsTransformersDoes() throws {
        let result = try CLI.run(["generate", "--chat", "--prompt", "What is the capital of France?", "--max-tokens", "20"])
        XCTAssertEqual(result.status, 0, result.stderr)
        // transformers' greedy tokens from the same chat prompt begin "The capital of France is Paris."
        // and then end the turn.
        XCTAssertEqual(result.stdout, "The capital of France is Paris.\n")
    }

    func testTraceJSONMatchesTransformers() throws {
        let reference = try Reference("smollm2")
        let result = try CLI.run(["trace", "--format", "json", "--prompt", "The capital of France is", "--top-k", "5"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.split(separator: "\n").count, 1)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["ids"] as? [Int], try reference.ints("p0.ids"))

        let logits = try reference.floats("p0.logits_last")
        let expectedTop = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(5)
        let top = try XCTUnwrap(json["top"] as? [[String: Any]])
        XCTAssertEqual(top.compactMap { $0["id"] as? Int }, Array(expectedTop))
        XCTAssertEqual(top.first?["token"] as? String, " Paris")
        for entry in top {
            let id = try XCTUnwrap(entry["id"] as? Int), logit = try XCTUnwrap((entry["logit"] as? NSNumber)?.floatValue)
            XCTAssertEqual(logit, logits[id], accuracy: max(1e-3, 1e-4 * abs(logits[id])))
        }
    }

    /// The tiny Llama as a GGUF file, tokenizer included, gives transformers' ids and top token.
    func testTraceOfATinyGGUFModel() throws {
        let reference = try Reference("tiny-llama")
        let model = Self.fixtures.appendingPathComponent("tiny-llama/model.gguf").path
        let result = try CLI.run(["trace", "--format", "json", "--model", model, "--prompt", Self.tinyPrompt, "--top-k", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let ids = try reference.ints("p1.ids")
        XCTAssertEqual(json["ids"] as? [Int], ids)
        let logits = try reference.floats("p1.logits").suffix(300)
        let best = logits.indices.max { logits[$0] < logits[$1] }! - logits.startIndex
        XCTAssertEqual((json["top"] as? [[String: Any]])?.first?["id"] as? Int, best)
    }

    /// The text of the tiny fixtures' second prompt (TINY_PROMPTS[1] of the reference script).
    private static let tinyPrompt = "Alice is taller than Bob. Bob is taller than Carol. Question: Is Alice taller than Carol? "
        + "If it rains, the grass is wet. The quick brown fox jumps over the lazy dog."

    /// `--output` writes each hook as a dataset that h5py reads: names, shapes, attributes, and
    /// values equal to transformers' q and rotated k of the tiny Llama.
    func testTraceOutputIsAnHDF5FileOfHooks() throws {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", "import h5py"]
        try python.run()
        python.waitUntilExit()
        try XCTSkipIf(python.terminationStatus != 0, "python3 with h5py is needed to read the file back")

        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("trace.h5").path
        let model = Self.fixtures.appendingPathComponent("tiny-llama").path
        let prompt = Self.tinyPrompt
        let result = try CLI.run(["trace", "--model", model, "--prompt", prompt, "--hook", "blocks.*.attn.hook_q",
                                  "--hook", "blocks.1.attn.hook_rot_k", "--output", output])
        XCTAssertEqual(result.status, 0, result.stderr)

        let script = """
            import h5py, json, sys
            with h5py.File(sys.argv[1], "r") as f:
                print(json.dumps({
                    "names": sorted(f.keys()),
                    "prompt": f.attrs["prompt"], "architecture": f.attrs["architecture"],
                    "token_ids": [int(i) for i in f.attrs["token_ids"]],
                    "shapes": {name: list(f[name].shape) for name in f},
                    "q1": [float(x) for x in f["blocks.1.attn.hook_q"][...].ravel()],
                    "rot_k1": [float(x) for x in f["blocks.1.attn.hook_rot_k"][...].ravel()],
                    "positions": [int(p) for p in f["blocks.1.attn.hook_q"].attrs["positions"]],
                }))
            """
        let reader = Process(), pipe = Pipe()
        reader.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        reader.arguments = ["python3", "-c", script, output]
        reader.standardOutput = pipe
        try reader.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        reader.waitUntilExit()
        XCTAssertEqual(reader.terminationStatus, 0)
        let file = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])

        let reference = try Reference("tiny-llama")
        let ids = try reference.ints("p1.ids")
        XCTAssertEqual(file["names"] as? [String], ["blocks.0.attn.hook_q", "blocks.1.attn.hook_q", "blocks.1.attn.hook_rot_k"])
        XCTAssertEqual(file["prompt"] as? String, prompt)
        XCTAssertEqual(file["architecture"] as? String, "llama")
        XCTAssertEqual(file["token_ids"] as? [Int], ids)
        XCTAssertEqual(file["positions"] as? [Int], Array(ids.indices))
        XCTAssertEqual((file["shapes"] as? [String: [Int]])?["blocks.1.attn.hook_q"], [ids.count, 4, 16])
        XCTAssertEqual((file["shapes"] as? [String: [Int]])?["blocks.1.attn.hook_rot_k"], [ids.count, 2, 16])

        // Layer 1 of the reference's [layer, pos, head, d_head] arrays.
        for (key, array, width) in [("q1", "p1.q", 4 * 16), ("rot_k1", "p1.rot_k", 2 * 16)] {
            let expected = try reference.floats(array)
            let layer1 = expected[(ids.count * width)...]
            let actual = try XCTUnwrap(file[key] as? [Double]).map(Float.init)
            XCTAssertEqual(actual.count, layer1.count)
            let scale = layer1.map(abs).max() ?? 0
            let error = zip(actual, layer1).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(error, 1e-4 * scale, key)
        }
    }

    func testBenchJSON() throws {
        let model = Self.fixtures.appendingPathComponent("tiny-qwen3").path
        let result = try CLI.run(["bench", "--model", model, "--tokens", "16", "--runs", "1", "--format", "json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["tokens"] as? Int, 16)
        XCTAssertGreaterThan(try XCTUnwrap(json["tokens_per_second"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(json["gflops"] as? Double), 0)

        let compared = try CLI.run(["bench", "--model", model, "--tokens", "16", "--runs", "2", "--compare", "--ideal", "--format", "json"])
        XCTAssertEqual(compared.status, 0, compared.stderr)
        let shares = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(compared.stdout.utf8)) as? [String: Any])
        for key in ["share_of_ideal", "warm_share_of_ideal", "float32_share_of_ideal", "fastest_share_of_ideal", "fastest_float32_share_of_ideal",
                    "speed_over_float32"] {
            XCTAssertGreaterThan(try XCTUnwrap(shares[key] as? Double, key), 0, key)
        }
    }

    /// Bad requests and broken models end in one `Error:` line and a non-zero status.
    func testBadInputFails() throws {
        let tiny = Self.fixtures.appendingPathComponent("tiny-llama")
        let broken = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: broken) }
        for name in ["model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: tiny.appendingPathComponent(name), to: broken.appendingPathComponent(name))
        }
        // One more layer than the weights have, and a feed-forward width they do not have.
        let config = try String(contentsOf: tiny.appendingPathComponent("config.json"), encoding: .utf8)
        try config.replacingOccurrences(of: "\"num_hidden_layers\": 2", with: "\"num_hidden_layers\": 3")
            .write(to: broken.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let missing = try CLI.run(["generate", "--model", broken.path, "--prompt", "Tom"])
        try config.replacingOccurrences(of: "\"intermediate_size\": 128", with: "\"intermediate_size\": 96")
            .write(to: broken.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let misShaped = try CLI.run(["trace", "--model", broken.path, "--prompt", "Tom"])

        let cases: [(CLIResult, String)] = [
            (missing, "missing tensor model.layers.2.self_attn.q_proj.weight"),
            (misShaped, "tensor model.layers.0.mlp.gate_proj.weight has shape [128, 64], expected [96, 64]"),
            (try CLI.run(["trace", "--model", tiny.path, "--prompt", "Tom", "--hook", "blocks.*.attn.hook_query"]),
             "no hook matches 'blocks.*.attn.hook_query'; hooks are hook_embed, blocks.{0-1}."),
            (try CLI.run(["trace", "--model", tiny.path, "--prompt", String(repeating: "Tom is a cat. ", count: 40)]),
             "exceed the model's context length of 128"),
            (try CLI.run(["generate", "--model", tiny.path, "--prompt", ""]), "--prompt is empty"),
            (try CLI.run(["generate", "--model", tiny.appendingPathComponent("model.gguf").path, "--prompt", "Tom", "--chat"]),
             "model.gguf: the model has no chat template"),
        ]
        for (result, message) in cases {
            XCTAssertNotEqual(result.status, 0, message)
            XCTAssertTrue(result.stderr.contains(message), "'\(result.stderr)' lacks '\(message)'")
            XCTAssertTrue(result.stderr.hasPrefix("Error: "), result.stderr)
        }
    }
}
