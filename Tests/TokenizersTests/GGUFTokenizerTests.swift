import Foundation
import ModelFormats
import XCTest
@testable import Tokenizers

/// The default model's tokenizer (SmolLM2-135M-Instruct GGUF) against Hugging Face tokenizers on the
/// whole reference corpus, token for token, offsets and decodings included.
final class DefaultModelTokenizerTests: XCTestCase {
    private static func defaultModel() throws -> GGUFFile {
        let url: URL
        do {
            url = try DefaultModel.resolve()
        } catch {
            XCTFail("the default model is needed for this test: \(error)")
            throw error
        }
        return try GGUFFile(url: url)
    }

    func testMatchesHuggingFaceOnTheCorpus() throws {
        let tokenizer = try Tokenizer(gguf: Self.defaultModel())
        let expected = try Fixtures.decode(ExpectedFile.self, "smollm2-gguf-expected.json")
        XCTAssertGreaterThanOrEqual(expected.cases.count, 300)
        let matching = assertMatchesReference(tokenizer, expected)
        XCTAssertEqual(matching, expected.cases.count, "cases matching Hugging Face in ids, offsets and decoding")

        XCTAssertEqual(tokenizer.kind, expected.kind)
        XCTAssertEqual(tokenizer.bosTokenID, expected.bos_token_id)
        XCTAssertEqual(tokenizer.eosTokenID, expected.eos_token_id)
        XCTAssertEqual(tokenizer.vocabSize, expected.vocab_size)
        XCTAssertEqual(tokenizer.addsBOSToken, expected.adds_bos_token)
        for single in try XCTUnwrap(expected.token_decodes) {
            XCTAssertEqual(tokenizer.decode([single.id]), single.text, "decode of token \(single.id)")
        }
    }

    func testVocabularyAndBOSOverride() throws {
        let gguf = try Self.defaultModel()
        let tokenizer = try Tokenizer(gguf: gguf)
        let tokens = try XCTUnwrap(gguf.stringArray("tokenizer.ggml.tokens"))
        for id in [0, 1, 2, 17, 216, 1000, tokens.count - 1] {
            XCTAssertEqual(tokenizer.tokenString(id), tokens[id])
            XCTAssertEqual(tokenizer.id(forToken: tokens[id]), id)
        }
        let withBOS = try Tokenizer(gguf: gguf, addBOS: true)
        let text = "The lion is slow."
        XCTAssertEqual(withBOS.encode(text), [try XCTUnwrap(tokenizer.bosTokenID)] + tokenizer.encode(text))
        XCTAssertEqual(withBOS.encodeWithOffsets(text).offsets.first, 0..<0)
        XCTAssertEqual(withBOS.encode(text, addSpecialTokens: false), tokenizer.encode(text))
        XCTAssertEqual(withBOS.decode(withBOS.encode(text), skipSpecialTokens: true), text)
    }
}

/// Tokenizer-only GGUF files of the tiny tokenizers, one per `tokenizer.ggml.pre` family.
final class GGUFTokenizerTests: XCTestCase {
    private func check(_ name: String) throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(url: Fixtures.url("tiny-\(name).gguf")))
        let expected = try Fixtures.decode(ExpectedFile.self, "tiny-\(name)-gguf-expected.json")
        XCTAssertEqual(tokenizer.kind, expected.kind)
        XCTAssertEqual(tokenizer.bosTokenID, expected.bos_token_id)
        XCTAssertEqual(tokenizer.eosTokenID, expected.eos_token_id)
        XCTAssertEqual(tokenizer.addsBOSToken, expected.adds_bos_token)
        XCTAssertEqual(assertMatchesReference(tokenizer, expected), expected.cases.count)
    }

    func testGPT2() throws { try check("gpt2") }
    func testLlama3() throws { try check("llama3") }
    func testQwen2() throws { try check("qwen2") }

    func testModelPathOpensFilesAndFolders() throws {
        XCTAssertEqual(try Tokenizer(modelPath: Fixtures.url("tiny-qwen2.gguf").path).kind, "bpe/qwen2")
        XCTAssertEqual(try Tokenizer(modelPath: Fixtures.url("tiny-llama3").path).kind, "bpe/llama-bpe")
        XCTAssertThrowsError(try Tokenizer(modelPath: "/nonexistent/model.gguf"))
    }
}

/// GGUF files whose tokenizer cannot be built give one-line errors that name the file and the problem.
final class GGUFTokenizerErrorTests: XCTestCase {
    func testEachBrokenRuleIsNamed() throws {
        let cases = [
            "unknown-pre": "tokenizer.ggml.pre falcon is not supported",
            "sentencepiece": "lacks the byte token <0x00>",
            "no-tokenizer": "tokenizer.ggml.model is missing",
            "no-merges": "tokenizer.ggml.merges is missing",
            "bad-bos": "tokenizer.ggml.bos_token_id 100000 is not a token id",
            "merge-not-a-pair": "tokenizer.ggml.merges[0] is not two tokens",
            "merge-out-of-vocabulary": "merge 0",
            "type-count": "tokenizer.ggml.token_type has 3 entries",
        ]
        try assertBrokenGGUFs(cases)
    }
}

/// Gemma 3 270M's tokenizer (SentencePiece BPE over 262,144 tokens, BOS added) against the one
/// transformers builds from the same GGUF, on the corpus with Gemma's own tokens and non-Latin
/// scripts (reference/make_gemma3_fixtures.py). Skips when the model is not in the cache.
final class Gemma3TokenizerTests: XCTestCase {
    private static let tokenizer = Result { () throws -> Tokenizer? in
        try Gemma3Model.cached().map { try Tokenizer(gguf: GGUFFile(url: $0)) }
    }

    private func tokenizer() throws -> Tokenizer {
        guard let tokenizer = try Self.tokenizer.get() else { throw XCTSkip(Gemma3Model.absentReason) }
        return tokenizer
    }

    func testMatchesTransformersOnTheCorpus() throws {
        let tokenizer = try tokenizer()
        let expected = try Fixtures.decode(ExpectedFile.self, "gemma3-gguf-expected.json")
        XCTAssertGreaterThanOrEqual(expected.cases.count, 400)
        let matching = assertMatchesReference(tokenizer, expected)
        XCTAssertEqual(matching, expected.cases.count, "cases matching transformers in ids, offsets and decoding")
        print("Gemma 3 tokenizer: \(matching) of \(expected.cases.count) strings match transformers "
              + "(\(expected.cases.reduce(0) { $0 + $1.ids.count }) tokens)")
        XCTAssertEqual(tokenizer.kind, expected.kind)
        XCTAssertEqual(tokenizer.bosTokenID, expected.bos_token_id)
        XCTAssertEqual(tokenizer.eosTokenID, expected.eos_token_id)
        XCTAssertEqual(tokenizer.vocabSize, expected.vocab_size)
        XCTAssertEqual(tokenizer.addsBOSToken, expected.adds_bos_token)
        XCTAssertEqual(tokenizer.addsBOSToken, true)
        for single in try XCTUnwrap(expected.token_decodes) {
            XCTAssertEqual(tokenizer.decode([single.id]), single.text, "decode of token \(single.id)")
        }
    }

    /// Tokens of spaces are looked up as "▁"s (the file spells them with spaces); "\n" and "\t"
    /// are added tokens; BOS can be turned off.
    func testWhitespaceTokensAndBOS() throws {
        let tokenizer = try tokenizer()
        XCTAssertEqual(tokenizer.tokenString(138), "\u{2581}\u{2581}")
        XCTAssertEqual(tokenizer.encode("a  b", addSpecialTokens: false).contains(138), true)
        XCTAssertEqual(tokenizer.encode("x\ny").first, tokenizer.bosTokenID)
        let url = try XCTUnwrap(Gemma3Model.cached())
        let withoutBOS = try Tokenizer(gguf: GGUFFile(url: url), addBOS: false)
        XCTAssertEqual(withoutBOS.encode("Hello world"), Array(tokenizer.encode("Hello world").dropFirst()))
    }
}
