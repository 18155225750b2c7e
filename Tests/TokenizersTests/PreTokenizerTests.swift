import XCTest
@testable import Tokenizers

/// The hand-written scanners against the pieces Hugging Face's own pre-tokenizers (Oniguruma regexes,
/// `Digits`) cut the corpus into.
final class PreTokenizerTests: XCTestCase {
    private struct Splits: Decodable {
        let texts: [String]
        let splits: [String: [[[Int]]]]
    }

    private static let steps: [String: PreTokenizer] = [
        "gpt2": .split(.gpt2), "llama3": .split(.llama3), "qwen2": .split(.qwen2),
        "digits": .digits(individual: true), "digits-contiguous": .digits(individual: false),
    ]

    func testScannersCutTheCorpusLikeTheReference() throws {
        let fixture = try Fixtures.decode(Splits.self, "pretokenizer-splits.json")
        XCTAssertEqual(Set(fixture.splits.keys), Set(Self.steps.keys))
        for (name, expected) in fixture.splits {
            let step = try XCTUnwrap(Self.steps[name])
            XCTAssertEqual(expected.count, fixture.texts.count)
            for (text, wanted) in zip(fixture.texts, expected) {
                let pieces = step.split([AlignedScalar.scalars(of: text)[...]])
                let ranges = pieces.map { [$0.first!.start, $0.last!.end] }
                XCTAssertEqual(ranges, wanted, "\(name) on \(text.debugDescription)")
            }
        }
    }

    func testByteAlphabetIsAOneToOneSpellingOfAllBytes() {
        XCTAssertEqual(Set(ByteLevel.scalarForByte).count, 256)
        XCTAssertEqual(ByteLevel.spell(Array(" \n".utf8)), "ĠĊ")
        for byte in 0...255 {
            XCTAssertEqual(ByteLevel.byte(for: ByteLevel.scalarForByte[byte]), UInt8(byte))
        }
        XCTAssertEqual(ByteLevel.bytes(of: "ĠTrue"), Array(" True".utf8))
        // A token with characters outside the alphabet stands for its own UTF-8.
        XCTAssertEqual(ByteLevel.bytes(of: "a b"), Array("a b".utf8))
    }
}
