import Foundation
import ModelFormats
import XCTest
@testable import Tokenizers

/// A tiny SentencePiece-style BPE (byte fallback, "▁" for spaces) trained with Hugging Face tokenizers,
/// in the Llama 2 and Mistral styles of tokenizer.json and as a GGUF, against the ids, offsets and
/// decodings of tokenizers and transformers (reference/make_sentencepiece_fixtures.py).
final class SentencePieceTests: XCTestCase {
    private func checkFolder(_ name: String) throws {
        let tokenizer = try Tokenizer(folder: Fixtures.url(name))
        let expected = try Fixtures.decode(ExpectedFile.self, "\(name)/expected.json")
        XCTAssertGreaterThanOrEqual(expected.cases.count, 150)
        XCTAssertEqual(tokenizer.kind, expected.kind)
        XCTAssertEqual(assertMatchesReference(tokenizer, expected), expected.cases.count)
        XCTAssertEqual(tokenizer.bosTokenID, tokenizer.id(forToken: "<s>"))
        XCTAssertEqual(tokenizer.eosTokenID, tokenizer.id(forToken: "</s>"))
        XCTAssertTrue(tokenizer.addsBOSToken)
    }

    /// Normalizer Sequence[Prepend("▁"), Replace(" ", "▁")]: every piece between added tokens gets a "▁".
    func testLlama2StyleNormalizer() throws { try checkFolder("tiny-spm-llama2") }

    /// Pre-tokenizer Metaspace(prepend_scheme "first", split false): only the start of the text gets one.
    func testMistralStyleMetaspace() throws { try checkFolder("tiny-spm-mistral") }

    /// Metaspace(prepend_scheme "always", split true): every piece gets a "▁" and is cut before each "▁".
    func testMetaspaceAlwaysAndSplit() throws { try checkFolder("tiny-spm-split") }

    func testGGUFMatchesTransformersLoader() throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(url: Fixtures.url("tiny-spm.gguf")))
        let expected = try Fixtures.decode(ExpectedFile.self, "tiny-spm-gguf-expected.json")
        XCTAssertGreaterThanOrEqual(expected.cases.count, 150)
        XCTAssertEqual(tokenizer.kind, expected.kind)
        XCTAssertEqual(tokenizer.bosTokenID, expected.bos_token_id)
        XCTAssertEqual(tokenizer.eosTokenID, expected.eos_token_id)
        XCTAssertEqual(tokenizer.vocabSize, expected.vocab_size)
        XCTAssertEqual(tokenizer.addsBOSToken, expected.adds_bos_token)
        XCTAssertEqual(assertMatchesReference(tokenizer, expected), expected.cases.count)
        XCTAssertEqual(try Tokenizer(modelPath: Fixtures.url("tiny-spm.gguf").path).kind, "bpe/sentencepiece")
    }

    /// The merges derived from the scores are transformers' list, in its order.
    func testMergesFromScoresAreTransformers() throws {
        struct Merges: Decodable { let transformers_merges: [String] }
        let gguf = try GGUFFile(url: Fixtures.url("tiny-spm.gguf"))
        let merges = Tokenizer.mergesFromScores(tokens: try XCTUnwrap(gguf.stringArray("tokenizer.ggml.tokens")),
                                                scores: try XCTUnwrap(gguf.floatArray("tokenizer.ggml.scores")))
        let expected = try Fixtures.decode(Merges.self, "tiny-spm-gguf-expected.json").transformers_merges
        XCTAssertGreaterThan(expected.count, 100)
        XCTAssertEqual(merges.map { "\($0.0) \($0.1)" }, expected)
    }

    /// A space's "▁" maps to the space; the prepended "▁" shares the range of the character it is put
    /// before, as in Hugging Face.
    func testOffsetsOfMetaspaces() throws {
        let tokenizer = try Tokenizer(folder: Fixtures.url("tiny-spm-llama2"))
        let text = "привет мир"
        let encoded = tokenizer.encodeWithOffsets(text, addSpecialTokens: false)
        let metaspace = try XCTUnwrap(tokenizer.id(forToken: "▁"))
        let ranges = zip(encoded.ids, encoded.offsets).filter { $0.0 == metaspace }.map(\.1)
        XCTAssertEqual(ranges, [0..<2, 12..<13])
    }

    func testBrokenGGUFFilesAreNamed() throws {
        let cases = [
            "spm-no-scores": "tokenizer.ggml.scores is missing",
            "spm-no-byte-tokens": "lacks the byte token <0x41>",
            "spm-score-count": "tokenizer.ggml.scores has 10 entries",
        ]
        try assertBrokenGGUFs(cases)
    }

    func testBrokenTokenizerJSONIsNamed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = try Data(contentsOf: Fixtures.url("tiny-spm-llama2/tokenizer.json"))
        let original = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let variants: [(String, (inout [String: Any]) -> Void)] = [
            ("normalizer Lowercase is not supported", { $0["normalizer"] = ["type": "Lowercase"] }),
            ("normalizer Replace is supported only with a one-character String pattern", {
                $0["normalizer"] = ["type": "Replace", "pattern": ["Regex": " +"], "content": "▁"]
            }),
            ("decoder Metaspace is not supported", { $0["decoder"] = ["type": "Metaspace"] }),
            ("prepend_scheme sometimes", {
                $0["normalizer"] = NSNull()
                $0["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes"]
            }),
            ("needs a ByteLevel pre-tokenizer (byte-level BPE) or byte_fallback", {
                var model = $0["model"] as! [String: Any]
                model["byte_fallback"] = false
                $0["model"] = model
            }),
        ]
        for (phrase, edit) in variants {
            var json = original
            edit(&json)
            let url = directory.appendingPathComponent("tokenizer.json")
            try JSONSerialization.data(withJSONObject: json).write(to: url)
            XCTAssertThrowsError(try Tokenizer(tokenizerJSON: url), phrase) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(url.path), message)
                XCTAssertTrue(message.contains(phrase), message)
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
    }
}
