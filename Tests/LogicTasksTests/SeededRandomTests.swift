import Foundation
import XCTest

@testable import LogicTasks

/// The generators against outputs of reference/logic_prng.py (written from Vigna's C code).
final class SeededRandomTests: XCTestCase {
    private func reference() throws -> JSONObject {
        let bytes = [UInt8](try Data(contentsOf: fixture("prng-reference.json")))
        guard case .object(let object) = try JSONValue.parse(bytes) else { throw DatasetError("prng-reference.json", "not an object") }
        return object
    }

    private func numbers(_ value: JSONValue?) throws -> [UInt64] {
        guard case .array(let items)? = value else { throw DatasetError("prng-reference.json", "not a list") }
        return try items.map { item in
            guard let text = item.stringValue, let number = UInt64(text) else { throw DatasetError("prng-reference.json", "not a number") }
            return number
        }
    }

    private func cases(_ key: String) throws -> [JSONObject] {
        guard case .array(let items)? = try reference()[key] else { throw DatasetError("prng-reference.json", "no \(key)") }
        return items.compactMap { if case .object(let object) = $0 { object } else { nil } }
    }

    func testSplitMix64MatchesReference() throws {
        let all = try cases("splitmix64")
        XCTAssertEqual(all.count, 3)
        for testCase in all {
            let seed = try XCTUnwrap(testCase["seed"]?.stringValue.flatMap { UInt64($0) })
            var generator = SplitMix64(seed: seed)
            XCTAssertEqual((0..<6).map { _ in generator.next() }, try numbers(testCase["outputs"]), "seed \(seed)")
        }
    }

    func testXoshiro256StarStarMatchesReference() throws {
        let all = try cases("xoshiro256starstar")
        XCTAssertEqual(all.count, 2)
        for testCase in all {
            let state = try numbers(testCase["state"])
            var generator = SeededRandom(state: (state[0], state[1], state[2], state[3]))
            XCTAssertEqual((0..<6).map { _ in generator.next() }, try numbers(testCase["outputs"]))
        }
    }

    func testBoundedDrawsStayInRangeAndCoverIt() {
        var random = SeededRandom(key: [1, 2, 3])
        var seen = Array(repeating: 0, count: 7)
        for _ in 0..<7000 { seen[random.below(7)] += 1 }
        XCTAssertTrue(seen.allSatisfy { $0 > 800 && $0 < 1200 }, "\(seen)")
    }

    func testShuffleIsAPermutationAndKeysGiveIndependentStreams() {
        var first = SeededRandom(key: [9, 1])
        var again = SeededRandom(key: [9, 1])
        var items = Array(0..<50)
        first.shuffle(&items)
        XCTAssertEqual(items.sorted(), Array(0..<50))
        XCTAssertNotEqual(items, Array(0..<50))
        var same = Array(0..<50)
        again.shuffle(&same)
        XCTAssertEqual(items, same, "the same key gives the same stream")
        var one = SeededRandom(key: [9, 1])
        var two = SeededRandom(key: [9, 2])
        XCTAssertNotEqual((0..<4).map { _ in one.next() }, (0..<4).map { _ in two.next() })
    }
}
