import Foundation
import XCTest
@testable import Tokenizers

/// Tiny byte-level BPE tokenizers trained with Hugging Face tokenizers, loaded from their
/// tokenizer.json and tokenizer_config.json, against the ids and offsets tokenizers gives.
final class TokenizerJSONTests: XCTestCase {
    private func check(_ name: String, kind: String) throws {
        let tokenizer = try Tokenizer(folder: Fixtures.url("tiny-\(name)"))
        let expected = try Fixtures.decode(ExpectedFile.self, "tiny-\(name)/expected.json")
        XCTAssertEqual(tokenizer.kind, kind)
        let matching = assertMatchesReference(tokenizer, expected)
        XCTAssertEqual(matching, expected.cases.count)
        XCTAssertGreaterThan(expected.cases.count, 150)
    }

    /// GPT-2 style with a prefix space, trimmed offsets, lstrip/rstrip and single-word added tokens.
    func testGPT2StyleWithPrefixSpaceAndTrimmedOffsets() throws {
        try check("gpt2", kind: "bpe/custom")
    }

    /// Llama 3 style: its split pattern, BOS from the template, whole-word tokens before merges.
    func testLlama3StyleWithBOSAndIgnoreMerges() throws {
        try check("llama3", kind: "bpe/llama-bpe")
        let tokenizer = try Tokenizer(folder: Fixtures.url("tiny-llama3"))
        XCTAssertEqual(tokenizer.bosTokenID, tokenizer.id(forToken: "<|begin_of_text|>"))
        XCTAssertEqual(tokenizer.eosTokenID, tokenizer.id(forToken: "<|eot_id|>"))
        XCTAssertTrue(tokenizer.addsBOSToken)
        // "Ġzebra" is in the vocabulary but no merge makes it.
        XCTAssertEqual(tokenizer.encode(" zebra", addSpecialTokens: false), [tokenizer.id(forToken: "Ġzebra")!])
    }

    /// Qwen2 style: NFC, its split pattern, an added token matched after normalization.
    func testQwen2StyleWithNFC() throws {
        try check("qwen2", kind: "bpe/qwen2")
    }

    func testBOSOverride() throws {
        let folder = try Fixtures.url("tiny-llama3")
        let withoutBOS = try Tokenizer(folder: folder, addBOS: false)
        let expected = try Fixtures.decode(ExpectedFile.self, "tiny-llama3/expected.json")
        for item in expected.cases.prefix(20) {
            XCTAssertEqual(withoutBOS.encode(item.text), item.ids_without_special ?? item.ids)
        }
        XCTAssertFalse(withoutBOS.addsBOSToken)

        let qwen = try Fixtures.url("tiny-qwen2")
        XCTAssertThrowsError(try Tokenizer(folder: qwen, addBOS: true)) { error in
            XCTAssertTrue("\(error)".contains("BOS"), "\(error)")
        }
        let gpt2 = try Tokenizer(folder: Fixtures.url("tiny-gpt2"), addBOS: nil)
        XCTAssertNil(gpt2.bosTokenID)
        XCTAssertFalse(gpt2.addsBOSToken)
    }

    func testVocabularyAccess() throws {
        let tokenizer = try Tokenizer(folder: Fixtures.url("tiny-qwen2"))
        let id = try XCTUnwrap(tokenizer.id(forToken: "<|im_end|>"))
        XCTAssertEqual(tokenizer.tokenString(id), "<|im_end|>")
        XCTAssertEqual(tokenizer.eosTokenID, id)
        XCTAssertNil(tokenizer.tokenString(tokenizer.vocabSize))
        XCTAssertNil(tokenizer.id(forToken: "no such token"))
        XCTAssertEqual(tokenizer.decode([tokenizer.vocabSize, -1]), "")
    }
}

/// Files a tokenizer cannot be built from give one-line errors that name the file and the problem.
final class TokenizerJSONErrorTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qkprobe-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The tiny Qwen2 tokenizer.json with one part replaced.
    private func variant(_ edit: (inout [String: Any]) -> Void) throws -> URL {
        let data = try Data(contentsOf: Fixtures.url("tiny-qwen2/tokenizer.json"))
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&json)
        let url = directory.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        return url
    }

    private func assertError(_ url: URL, mentions phrase: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: url), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(url.path), message, file: file, line: line)
            XCTAssertTrue(message.contains(phrase), message, file: file, line: line)
            XCTAssertFalse(message.contains("\n"), message, file: file, line: line)
        }
    }

    func testUnsupportedComponentsAreNamed() throws {
        assertError(try variant { $0["normalizer"] = ["type": "NFKC"] }, mentions: "normalizer NFKC")
        assertError(try variant { $0["pre_tokenizer"] = ["type": "Whitespace"] }, mentions: "pre_tokenizer Whitespace")
        assertError(try variant {
            $0["pre_tokenizer"] = ["type": "Split", "pattern": ["Regex": "\\s+"], "behavior": "Isolated"]
        }, mentions: "Split pattern \\s+")
        assertError(try variant { $0["decoder"] = ["type": "Metaspace"] }, mentions: "decoder Metaspace")
        assertError(try variant { $0["post_processor"] = ["type": "BertProcessing"] }, mentions: "post_processor BertProcessing")
        assertError(try variant {
            var model = $0["model"] as! [String: Any]
            model["type"] = "Unigram"
            $0["model"] = model
        }, mentions: "model type Unigram")
        assertError(try variant {
            var model = $0["model"] as! [String: Any]
            model["byte_fallback"] = true
            $0["model"] = model
        }, mentions: "byte_fallback")
        assertError(try variant {
            $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false],
                ["type": "Digits", "individual_digits": true]]]
        }, mentions: "ByteLevel as its last pre-tokenizer step")
    }

    func testBrokenFilesAreNamed() throws {
        assertError(try variant {
            var model = $0["model"] as! [String: Any]
            model["merges"] = [["Ġ", "no-such-token"]]
            $0["model"] = model
        }, mentions: "merge 0")
        assertError(try variant {
            var model = $0["model"] as! [String: Any]
            model["merges"] = ["one-part-only"]
            $0["model"] = model
        }, mentions: "model.merges[0]")
        assertError(try variant {
            $0["post_processor"] = ["type": "TemplateProcessing",
                                    "single": [["SpecialToken": ["id": "<s>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                                    "special_tokens": ["<s>": ["id": "<s>", "ids": [99999], "tokens": ["<s>"]]]]
        }, mentions: "special token id 99999")
        assertError(try variant { $0["model"] = "nothing" }, mentions: "model is not a JSON object")
        assertError(try variant { $0["added_tokens"] = [["content": "x"]] }, mentions: "added_tokens[0]")
        assertError(try variant { $0["added_tokens"] = [["content": "x", "id": 1_000_000_000]] },
                    mentions: "added_tokens[0] (\"x\") has id 1000000000, outside 0..<16777216")
        assertError(try variant {
            var model = $0["model"] as! [String: Any]
            var vocab = model["vocab"] as! [String: Any]
            vocab["duplicate-of-zero"] = 0
            model["vocab"] = vocab
            $0["model"] = model
        }, mentions: "model.vocab gives id 0 to both")
        assertError(try variant {
            var model = $0["model"] as! [String: Any]
            var vocab = model["vocab"] as! [String: Any]
            vocab["far-away"] = 1 << 40
            model["vocab"] = vocab
            $0["model"] = model
        }, mentions: "has id 1099511627776, outside")

        let garbage = directory.appendingPathComponent("garbage.json")
        try Data("{not json".utf8).write(to: garbage)
        assertError(garbage, mentions: "not valid JSON")
        assertError(directory.appendingPathComponent("missing.json"), mentions: "no such file")
        let empty = directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try Tokenizer(folder: empty)) { error in
            XCTAssertTrue("\(error)".contains("no tokenizer.json"), "\(error)")
        }
    }
}
