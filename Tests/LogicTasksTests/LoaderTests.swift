import Foundation
import XCTest

@testable import LogicTasks

final class PromptFileTests: XCTestCase {
    func testReadsTheFormatAndKeepsUnknownFieldsAsMetadata() throws {
        let dataset = try PromptFile.read(fixture("prompts/valid.jsonl"))
        XCTAssertEqual(dataset.name, "valid")
        XCTAssertEqual(dataset.options, [" True", " False"])
        XCTAssertEqual(dataset.samples.map(\.id), ["p1", "p2", "p3"])
        let first = dataset.samples[0]
        XCTAssertEqual(first.label, 0)
        XCTAssertEqual(first.steps, 1)
        XCTAssertEqual(first.distractors, 0)
        XCTAssertEqual(first.context, "Every wug is a dax. Max is a wug.")
        XCTAssertEqual(first.metadata.keys, ["note", "rating"])
        XCTAssertEqual(dataset.samples[1].label, 1)
        XCTAssertNil(dataset.samples[1].steps)
        XCTAssertNil(dataset.samples[2].label, "null reads as absent")
        XCTAssertEqual(try dataset.samples[2].rendered().text, "Naïve café ☕ — Answer\nAnswer:", "a plain prompt is used as is")
    }

    func testWriteReadRoundTripAndNoSilentOverwrite() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qkprobe-roundtrip-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        let original = try PromptFile.read(fixture("prompts/valid.jsonl")).samples
        try PromptFile.write(original, to: url, overwrite: false)
        XCTAssertEqual(try PromptFile.read(url).samples, original)
        assertFails(try PromptFile.write(original, to: url, overwrite: false), mentioning: url.lastPathComponent, "--force")
        XCTAssertNoThrow(try PromptFile.write(Array(original.prefix(1)), to: url, overwrite: true))
        XCTAssertEqual(try PromptFile.read(url).samples.count, 1)
    }

    func testBadInputIsReportedAsFileLineAndReason() throws {
        assertFails(try PromptFile.read(fixture("prompts/malformed.jsonl")), mentioning: "malformed.jsonl:3:", "malformed JSON", "expected ',' or ']'")
        assertFails(try PromptFile.read(fixture("prompts/missing-prompt.jsonl")), mentioning: "missing-prompt.jsonl:2:", "missing required field \"prompt\"")
        assertFails(try PromptFile.read(fixture("prompts/empty.jsonl")), mentioning: "empty.jsonl", "empty")
        // The answer cue is a setting of the probe, so a prompt without it loads and fails when rendered.
        assertFails(try PromptFile.read(fixture("prompts/no-answer.jsonl")).samples[1].rendered(), mentioning: "no-anchor", "\"Answer:\"")
        XCTAssertEqual(try PromptFile.read(fixture("prompts/mixed-options.jsonl")).options, [" yes| True", " no| False"])
        assertFails(try PromptFile.read(fixture("prompts/option-count.jsonl")), mentioning: "option-count.jsonl:2:", "same number of options")
        assertFails(try PromptFile.read(fixture("prompts/label-out-of-range.jsonl")), mentioning: "label-out-of-range.jsonl:1:", "label 2")
        assertFails(try PromptFile.read(fixture("prompts/duplicate-id.jsonl")), mentioning: "duplicate-id.jsonl:2:", "duplicate id a", "line 1")
        assertFails(try PromptFile.read(fixture("prompts/label-string.jsonl")), mentioning: "label-string.jsonl:1:", "\"label\" must be an integer, found a string")
        assertFails(try PromptFile.read(URL(fileURLWithPath: "/nonexistent/x.jsonl")), mentioning: "/nonexistent/x.jsonl", "no such file")
    }
}

final class PublicFormatFixtureTests: XCTestCase {
    func testParaRulePlus() throws {
        let dataset = try DatasetFormat.pararule.load(fixture("pararule/depth-mixed.jsonl"))
        XCTAssertEqual(dataset.options, AnswerOptions.trueFalse)
        XCTAssertEqual(dataset.samples.map(\.id), ["NegationRule-Animal-D2-11", "NegationRule-Animal-D2-12", "NonNegationRule-D3-21", "NonNegationRule-D3-22", "NonNegationRule-D3-23"])
        XCTAssertEqual(dataset.samples.map(\.label), [0, 1, 0, 1, 0], "\"True\" is read in any case")
        XCTAssertEqual(dataset.samples.map(\.steps), [2, 2, 3, 3, nil], "QDep as a string or a number; absent is unknown")
        XCTAssertEqual(dataset.samples[0].question, "True or false: The cat is kind.")
        XCTAssertEqual(dataset.samples[0].metadata["QCat"], .string("0_not_notTrue"))
        XCTAssertEqual(dataset.samples[0].metadata["context_id"], .string("NegationRule-Animal-D2-1"))
        assertFails(try DatasetFormat.pararule.load(fixture("pararule/bad-label.jsonl")), mentioning: "bad-label.jsonl:1: question 1", "\"maybe\"")
    }

    func testMultiLogiEvalFolderWithItsQuirks() throws {
        let dataset = try DatasetFormat.multilogieval.load(fixture("multilogieval/data"))
        XCTAssertEqual(dataset.name, "data")
        XCTAssertEqual(dataset.options, AnswerOptions.yesNo)
        // Sorted by path: d1 (cp1252), d2 ("mm"), multivariable (depth "-", capitalised answers).
        XCTAssertEqual(dataset.samples.map(\.id), ["pl/d1/CT/1", "nm/d2/REI_MP/1", "nm/d2/REI_MP/2", "multivar_fol/-/1/1", "multivar_fol/-/1/2"])
        XCTAssertEqual(dataset.samples.map(\.label), [0, 0, 1, 0, 1])
        XCTAssertEqual(dataset.samples.map(\.steps), [1, 2, 2, nil, nil])
        XCTAssertEqual(dataset.samples[0].context, "Either the lamp is on or the room is dark. \u{201C}The lamp is on,\u{201D} Sam said \u{2013} and he was right.")
        XCTAssertEqual(dataset.samples[1].metadata["logic"], .string("nm"))
        let single = try DatasetFormat.multilogieval.load(fixture("multilogieval/data/d1_Data/pl/CT.json"))
        XCTAssertEqual(single.samples.map(\.id), ["pl/d1/CT/1"], "a file gives the same ids as its folder")
        assertFails(try DatasetFormat.multilogieval.load(fixture("multilogieval/bad-depth.json")), mentioning: "bad-depth.json", "\"three\"")
    }

    func testProntoQABothLayouts() throws {
        let list = try DatasetFormat.prontoqa.load(fixture("prontoqa/logic-llm.json"))
        XCTAssertEqual(list.samples.map(\.id), ["ProntoQA_1", "ProntoQA_2"])
        XCTAssertEqual(list.samples.map(\.label), [1, 0])
        XCTAssertEqual(list.samples.map(\.steps), [2, 2])
        XCTAssertEqual(list.samples.map(\.distractors), [1, 1])

        let dict = try DatasetFormat.prontoqa.load(fixture("prontoqa/original.json"))
        XCTAssertEqual(dict.samples.map(\.id), ["example1", "example2", "example10"], "file order")
        XCTAssertEqual(dict.samples.map(\.label), [1, 0, nil], "a proof-only example has no label")
        XCTAssertEqual(dict.samples.map(\.steps), [2, 3, 1])
        XCTAssertEqual(dict.samples.map(\.distractors), [1, 0, 0])
        XCTAssertEqual(dict.samples[0].context, "Each quorp is a murp. Each murp is not cold. Sam is a quorp. Each skrell is cold.")
        XCTAssertEqual(dict.samples[0].question, "True or false: Sam is cold.")
        let result = try LogicChecker.check(context: dict.samples[0].context!, question: dict.samples[0].question!, semantics: .openWorld)
        XCTAssertEqual(result, CheckResult(answer: false, steps: 2, sentences: 4))
    }

    func testFolderWithoutFilesOfTheFormat() throws {
        assertFails(try DatasetFormat.pararule.load(fixture("templates")), mentioning: "templates", "no .jsonl files")
    }
}

/// The real benchmark files, found through `publicDatasets` (skipped where they are absent).
final class PublicDatasetTests: XCTestCase {
    func testParaRulePlusDepthsTwoToFive() throws {
        var total = 0
        for depth in 2...5 {
            let dataset = try DatasetFormat.pararule.load(publicDatasets("pararule-plus/depth\(depth)_test.jsonl"))
            let stats = DatasetStats(dataset)
            XCTAssertEqual(stats.cells.map(\.steps), [depth], "QDep equals the file's depth")
            XCTAssertEqual(stats.labelTotals[0], stats.labelTotals[1], "every question comes with its negation")
            total += stats.total
        }
        XCTAssertEqual(total, 2708 + 2694 + 2704 + 2692)
        let folder = try DatasetFormat.pararule.load(publicDatasets("pararule-plus"))
        XCTAssertEqual(folder.samples.count, total)
    }

    func testMultiLogiEvalWholeDataFolder() throws {
        let dataset = try DatasetFormat.multilogieval.load(publicDatasets("multi-logieval/data"))
        let stats = DatasetStats(dataset)
        XCTAssertEqual(stats.total, 1696)
        XCTAssertEqual(stats.labelTotals, [1212, 484])
        XCTAssertEqual(dataset.samples.filter { $0.steps == nil }.count, dataset.samples.filter { $0.id.hasPrefix("multivar_fol/") }.count)
        XCTAssertFalse(dataset.samples.contains { $0.metadata["logic"] == .string("mm") })
        // The three cp1252 files, each with its one non-ASCII character decoded.
        for (file, character) in [("nm/d1/default_reasoning_open/", "\u{2019}"), ("pl/d1/CT/", "é"), ("pl/d5/BD_C_DS_MP_MP/", "°")] {
            let text = dataset.samples.filter { $0.id.hasPrefix(file) }.map { "\($0.context ?? "") \($0.question ?? "")" }.joined()
            XCTAssertTrue(text.contains(character), file)
        }
    }

    func testProntoQALogicLLM() throws {
        let stats = DatasetStats(try DatasetFormat.prontoqa.load(publicDatasets("prontoqa-logic-llm/dev.json")))
        XCTAssertEqual(stats.total, 500)
        XCTAssertEqual(stats.labelTotals, [258, 242])
        XCTAssertEqual(Set(stats.cells.map(\.steps)), [5])
        XCTAssertEqual(stats.cells.map(\.distractors), [6, 8, 10, 12])
        XCTAssertEqual(stats.cells.map(\.total), [28, 26, 34, 412])
    }
}
