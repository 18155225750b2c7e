import XCTest

@testable import LogicTasks

final class FewShotTests: XCTestCase {
    private func pool(_ count: Int) -> [LogicSample] {
        (0..<count).map { i in
            LogicSample(id: "s\(i)", prompt: "Fact \(i). Is it?\nAnswer:", options: AnswerOptions.trueFalse, label: i % 2)
        }
    }

    private func text(_ sample: LogicSample) throws -> String { try sample.promptText() }

    func testBalancedNeverItselfAndSeeded() throws {
        let samples = pool(20)
        let fewShot = try FewShot(pool: samples, count: 4, seed: 7, source: "pool")
        var orders = Set<[String]>()
        for sample in samples {
            let chosen = try fewShot.demonstrations(for: sample, text: text)
            XCTAssertEqual(chosen.count, 4)
            XCTAssertFalse(chosen.contains { $0.id == sample.id }, "never the sample itself")
            XCTAssertEqual(chosen.filter { $0.label == 0 }.count, 2, "label-balanced")
            XCTAssertEqual(Set(chosen.map(\.id)).count, 4, "no repeats")
            XCTAssertEqual(try fewShot.demonstrations(for: sample, text: text).map(\.id), chosen.map(\.id), "seeded")
            orders.insert(chosen.map(\.id))
        }
        XCTAssertGreaterThan(orders.count, 10, "samples get different demonstrations")
        let other = try FewShot(pool: samples, count: 4, seed: 8, source: "pool")
        XCTAssertTrue(try samples.contains { try other.demonstrations(for: $0, text: text).map(\.id) != fewShot.demonstrations(for: $0, text: text).map(\.id) })
    }

    func testOddCountsSplitTheRemainderAndSamePromptIsExcluded() throws {
        var samples = pool(10)
        let fewShot = try FewShot(pool: samples, count: 3, seed: 1, source: "pool")
        var zeros = Set<Int>()
        for sample in samples {
            let chosen = try fewShot.demonstrations(for: sample, text: text)
            XCTAssertEqual(chosen.count, 3)
            zeros.insert(chosen.filter { $0.label == 0 }.count)
        }
        XCTAssertEqual(zeros, [1, 2], "the extra demonstration goes to either label")
        // A copy of the sample under another id is the sample too.
        samples.append(LogicSample(id: "copy", prompt: samples[0].prompt, options: AnswerOptions.trueFalse, label: 0))
        let withCopy = try FewShot(pool: samples, count: 8, seed: 3, source: "pool")
        XCTAssertFalse(try withCopy.demonstrations(for: samples[0], text: text).contains { $0.id == "copy" || $0.id == "s0" })
    }

    func testTooSmallAPoolIsRefused() {
        assertFails(try FewShot(pool: pool(4), count: 4, seed: 0, source: "small.jsonl"), mentioning: "small.jsonl", "need 3 samples with label")
        assertFails(try FewShot(pool: [LogicSample(id: "u", prompt: "x\nAnswer:", options: AnswerOptions.yesNo)], count: 1, seed: 0, source: "u.jsonl"),
                    mentioning: "no labelled samples")
    }

    func testDemonstrationTextAndPrefixedPlaces() throws {
        let sample = pool(2)[1]
        XCTAssertEqual(try sample.demonstration(with: nil), "Fact 1. Is it?\nAnswer: False")
        let rendered = try sample.rendered()
        let moved = rendered.prefixed(with: "abc\n\n")
        XCTAssertEqual(moved.text, "abc\n\n" + rendered.text)
        XCTAssertEqual(moved.cueUTF8Offset, rendered.cueUTF8Offset + 5)
        XCTAssertEqual(moved.questionEndUTF8Offset, rendered.questionEndUTF8Offset + 5)
        let chat = moved.embedded(in: "<t>" + moved.text + "</t>", at: 3, trimmedUTF8: 0)
        XCTAssertEqual(chat.cueUTF8Offset, moved.cueUTF8Offset + 3)
    }
}
