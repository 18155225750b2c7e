import Foundation
import ModelFormats
import XCTest
@testable import Tokenizers

/// The committed reference fixtures (written by reference/make_tokenizer_fixtures.py).
enum Fixtures {
    static func url(_ name: String) throws -> URL {
        let folder = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "fixtures folder missing")
        return folder.appendingPathComponent(name)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(contentsOf: url(name)))
    }
}

/// Expected ids, offsets and decodings of one text, from Hugging Face tokenizers.
struct ExpectedCase: Decodable {
    let text: String
    let ids: [Int]
    let offsets: [[Int]]
    let ids_without_special: [Int]?
    let offsets_without_special: [[Int]]?
    let decoded: String
    let decoded_skipping_special: String
}

struct ExpectedFile: Decodable {
    let cases: [ExpectedCase]
    let kind: String?
    let bos_token_id: Int?
    let eos_token_id: Int?
    let vocab_size: Int?
    let adds_bos_token: Bool?
    let token_decodes: [TokenDecode]?

    struct TokenDecode: Decodable {
        let id: Int
        let text: String

        init(from decoder: Decoder) throws {
            var pair = try decoder.unkeyedContainer()
            id = try pair.decode(Int.self)
            text = try pair.decode(String.self)
        }
    }
}

/// Compares every case token for token and reports each mismatch with its text; returns the number
/// of cases that match in everything.
@discardableResult
func assertMatchesReference(_ tokenizer: Tokenizer, _ expected: ExpectedFile,
                            file: StaticString = #filePath, line: UInt = #line) -> Int {
    var matching = 0
    for item in expected.cases {
        var ok = true
        func check<T: Equatable>(_ actual: T, _ wanted: T, _ what: String) {
            guard actual != wanted else { return }
            ok = false
            XCTFail("\(what) of \(item.text.debugDescription): got \(actual), want \(wanted)", file: file, line: line)
        }
        let encoded = tokenizer.encodeWithOffsets(item.text)
        check(encoded.ids, item.ids, "ids")
        check(encoded.offsets.map { [$0.lowerBound, $0.upperBound] }, item.offsets, "offsets")
        let plain = tokenizer.encodeWithOffsets(item.text, addSpecialTokens: false)
        check(plain.ids, item.ids_without_special ?? item.ids, "ids without special tokens")
        check(plain.offsets.map { [$0.lowerBound, $0.upperBound] }, item.offsets_without_special ?? item.offsets,
              "offsets without special tokens")
        check(tokenizer.encode(item.text), item.ids, "encode")
        check(tokenizer.decode(item.ids), item.decoded, "decoded")
        check(tokenizer.decode(item.ids, skipSpecialTokens: true), item.decoded_skipping_special, "decoded skipping special tokens")
        if ok { matching += 1 }
    }
    return matching
}

extension XCTestCase {
    /// Each `bad-gguf/<name>.gguf` fixture fails to load with one line that names the file and
    /// contains its phrase.
    func assertBrokenGGUFs(_ cases: [String: String], file: StaticString = #filePath, line: UInt = #line) throws {
        for (name, phrase) in cases {
            let url = try Fixtures.url("bad-gguf/\(name).gguf")
            XCTAssertThrowsError(try Tokenizer(gguf: GGUFFile(url: url)), name, file: file, line: line) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(url.path), message, file: file, line: line)
                XCTAssertTrue(message.contains(phrase), "\(name): \(message)", file: file, line: line)
                XCTAssertFalse(message.contains("\n"), message, file: file, line: line)
            }
        }
    }
}
