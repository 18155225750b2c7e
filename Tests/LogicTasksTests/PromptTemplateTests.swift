import XCTest

@testable import LogicTasks

final class PromptTemplateTests: XCTestCase {
    private func anchorText(_ rendered: RenderedPrompt) -> String {
        String(decoding: Array(rendered.text.utf8)[..<rendered.questionEndUTF8Offset], as: UTF8.self)
    }

    private func beforeCue(_ rendered: RenderedPrompt) -> String {
        String(decoding: Array(rendered.text.utf8)[..<rendered.cueUTF8Offset], as: UTF8.self)
    }

    func testDefaultTemplateAndItsAnchor() throws {
        let sample = LogicSample(id: "s", context: "Every wug is a dax. Max is a wug.", question: "True or false: Max is a dax.", options: AnswerOptions.trueFalse)
        let rendered = try sample.rendered()
        XCTAssertEqual(rendered.text, "Every wug is a dax. Max is a wug.\nQuestion: True or false: Max is a dax.\nAnswer:")
        XCTAssertEqual(anchorText(rendered), "Every wug is a dax. Max is a wug.\nQuestion: True or false: Max is a dax.")
        XCTAssertEqual(beforeCue(rendered), "Every wug is a dax. Max is a wug.\nQuestion: True or false: Max is a dax.\n")
        XCTAssertNil(rendered.markUTF8Offset)
        XCTAssertEqual(rendered.anchorPlace(.beforeCue)?.offset, rendered.cueUTF8Offset)
        XCTAssertEqual(rendered.anchorPlace(.beforeCue)?.tokenMayCross, false)
        XCTAssertEqual(rendered.anchorPlace(.questionEnd)?.tokenMayCross, true)
        XCTAssertNil(rendered.anchorPlace(.marked))
        XCTAssertEqual(rendered.options, [" True", " False"])
        XCTAssertEqual(try PromptTemplate(text: PromptTemplate.defaultText), .default, "the built-in default parses to itself")
    }

    func testAnchorCountsUTF8BytesAndSkipsWhitespace() throws {
        let sample = LogicSample(id: "u", prompt: "Ça va? Naïve ☕ \n \nAnswer: yes", options: AnswerOptions.yesNo)
        let rendered = try sample.rendered()
        XCTAssertEqual(rendered.questionEndUTF8Offset, "Ça va? Naïve ☕".utf8.count)
        XCTAssertEqual(rendered.cueUTF8Offset, "Ça va? Naïve ☕ \n \n".utf8.count)
        XCTAssertEqual(anchorText(rendered), "Ça va? Naïve ☕")
    }

    func testPlainPromptUsesItsFinalAnswer() throws {
        let sample = LogicSample(id: "p", prompt: "Answer the question. Is it? Answer:", options: AnswerOptions.yesNo)
        XCTAssertEqual(anchorText(try sample.rendered()), "Answer the question. Is it?")
    }

    func testPromptWithoutAnswerNamesTheSample() {
        assertFails(try LogicSample(id: "q-17", prompt: "Is it true?", options: AnswerOptions.yesNo).rendered(), mentioning: "q-17", "no answer cue \"Answer:\"")
        assertFails(try LogicSample(id: "q-18", prompt: " \nAnswer:", options: AnswerOptions.yesNo).rendered(), mentioning: "q-18", "no text before")
        assertFails(try LogicSample(id: "q-19", prompt: "Is it?\nAnswer", options: AnswerOptions.yesNo).rendered(), mentioning: "q-19", "\"Answer:\"")
    }

    func testAnotherCue() throws {
        let sample = LogicSample(id: "c", prompt: "Q: Is Max red?\nA:", options: AnswerOptions.yesNo)
        assertFails(try sample.rendered(), mentioning: "no answer cue")
        let rendered = try sample.rendered(cue: "A:")
        XCTAssertEqual(beforeCue(rendered), "Q: Is Max red?\n")
        XCTAssertEqual(anchorText(rendered), "Q: Is Max red?")
    }

    func testAnchorMark() throws {
        let template = try PromptTemplate(text: "{context} {question}{anchor}\nAnswer:")
        XCTAssertTrue(template.marksAnchor)
        XCTAssertFalse(PromptTemplate.default.marksAnchor)
        let sample = LogicSample(id: "m", context: "Max is red.", question: "Is Max red?", options: AnswerOptions.yesNo)
        let rendered = try sample.rendered(with: template)
        XCTAssertEqual(rendered.text, "Max is red. Is Max red?\nAnswer:")
        XCTAssertEqual(rendered.markUTF8Offset, "Max is red. Is Max red?".utf8.count)
        XCTAssertEqual(rendered.anchorPlace(.marked)?.offset, rendered.markUTF8Offset)
        assertFails(try PromptTemplate(text: "{anchor}{question}{anchor}\nAnswer:"), mentioning: "{anchor} more than once")
        let late = try PromptTemplate(text: "{question}\nAnswer: x{anchor} Answer: y", cue: "Answer:")
        assertFails(try sample.rendered(with: late, cue: "x"), mentioning: "sample m", "{anchor} comes after")
    }

    func testTemplateFileWithEscapedBraces() throws {
        let template = try PromptTemplate(contentsOf: fixture("templates/valid.txt"), cue: "Answer")
        let sample = LogicSample(id: "t", context: "A wug is red.", question: "Is it {really} red?", options: AnswerOptions.yesNo)
        let rendered = try sample.rendered(with: template, cue: "Answer")
        XCTAssertEqual(rendered.text, "Facts: A wug is red.\nQ: Is it {really} red? {yes/no}\nAnswer (True or False):", "one trailing newline dropped")
        XCTAssertEqual(anchorText(rendered), "Facts: A wug is red.\nQ: Is it {really} red? {yes/no}")
    }

    func testTemplateErrors() throws {
        assertFails(try PromptTemplate(contentsOf: fixture("templates/unknown-placeholder.txt")), mentioning: "unknown-placeholder.txt", "{questoin}")
        assertFails(try PromptTemplate(contentsOf: fixture("templates/answer-before-question.txt")), mentioning: "cue \"Answer:\" after {question}")
        assertFails(try PromptTemplate(text: "{context}\nAnswer:"), mentioning: "{question} exactly once")
        assertFails(try PromptTemplate(text: "{question}{question}\nAnswer:"), mentioning: "{question} exactly once")
        assertFails(try PromptTemplate(text: "{context}{context}{question}\nAnswer:"), mentioning: "{context} more than once")
        assertFails(try PromptTemplate(text: "{context {question}\nAnswer:"), mentioning: "unknown placeholder")
        assertFails(try PromptTemplate(text: "{question}\nAnswer: {"), mentioning: "never closed")
        assertFails(try PromptTemplate(text: "{question} } \nAnswer:"), mentioning: "single '}'")
    }

    func testATemplateNeedsAStructuredSample() throws {
        let plain = LogicSample(id: "plain-1", prompt: "Is it? Answer:", options: AnswerOptions.yesNo)
        assertFails(try plain.rendered(with: .default), mentioning: "plain-1", "context and question")
    }
}

final class OptionTokenTests: XCTestCase {
    /// A stand-in tokenizer: one token per word, with the leading space part of the word.
    private let vocabulary = [" True": 5, " False": 6, " yes": 7, " no": 8, " Tr": 9, "ue": 10, " T": 11]
    private func tokenize(_ text: String) throws -> [Int] {
        if let id = vocabulary[text] { return [id] }
        switch text {
        case " Truee": return [9, 10, 10]
        case " Te": return [11, 10]
        case "": return []
        default: throw DatasetError("tokenizer", "unknown text \(text)")
        }
    }

    func testOneTokenOptions() throws {
        XCTAssertEqual(try resolveOptionTokens(options: [" True", " False"], tokenize: tokenize, policy: .exact), [5, 6])
        XCTAssertEqual(try resolveOptionTokens(options: [" yes", " no"], tokenize: tokenize, policy: .last), [7, 8])
    }

    func testLongerOptionIsAnErrorUnlessAPolicyPicksAToken() throws {
        assertFails(try resolveOptionTokens(options: [" Truee", " False"], tokenize: tokenize, policy: .exact), mentioning: "\" Truee\"", "3 tokens", "--option-token")
        XCTAssertEqual(try resolveOptionTokens(options: [" Truee", " False"], tokenize: tokenize, policy: .first), [9, 6])
        XCTAssertEqual(try resolveOptionTokens(options: [" Truee", " False"], tokenize: tokenize, policy: .last), [10, 6])
    }

    func testOptionsThatShareATokenAreRefused() {
        assertFails(try resolveOptionTokens(options: [" Truee", " Te"], tokenize: tokenize, policy: .last), mentioning: "\" Truee\"", "\" Te\"", "token 10")
        assertFails(try resolveOptionTokens(options: ["", " no"], tokenize: tokenize, policy: .first), mentioning: "no tokens")
    }
}

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

final class MultipleChoiceTests: XCTestCase {
    private func write(_ text: String, _ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mcqa-\(UUID().uuidString)-\(name)")
        try Data(text.utf8).write(to: url)
        return url
    }

    func testPromptAndKeyPlaces() throws {
        let text = MultipleChoice.prompt(question: "Which?\nA. is not a choice", choices: ["red", "blue."])
        XCTAssertEqual(text, "Which?\nA. is not a choice\nA. red\nB. blue.\nAnswer:")
        let bytes = Array(text.utf8)
        let letters = try XCTUnwrap(MultipleChoice.keyOffsets(in: text, options: 2, cue: "Answer:", key: .letter))
        XCTAssertEqual(letters.map { bytes[$0] }, Array("AB".utf8))
        XCTAssertEqual(letters[0], "Which?\nA. is not a choice\n".utf8.count, "the question's own \"A.\" is not an option line")
        let periods = try XCTUnwrap(MultipleChoice.keyOffsets(in: text, options: 2, cue: "Answer:", key: .period))
        XCTAssertEqual(periods, letters.map { $0 + 1 })
        let ends = try XCTUnwrap(MultipleChoice.keyOffsets(in: text, options: 2, cue: "Answer:", key: .eol))
        XCTAssertEqual(ends.map { bytes[$0] }, Array("\n\n".utf8))
        XCTAssertEqual(String(decoding: bytes[..<ends[0]], as: UTF8.self), "Which?\nA. is not a choice\nA. red")
        XCTAssertEqual(String(decoding: bytes[..<ends[1]], as: UTF8.self), "Which?\nA. is not a choice\nA. red\nB. blue.")
        XCTAssertNil(MultipleChoice.keyOffsets(in: "No options\nAnswer:", options: 2, cue: "Answer:", key: .eol))
    }

    func testLoaderAndItsErrors() throws {
        let good = try write(#"{"id":"q","question":"Which?","choices":["x","y","z"],"answer":2,"steps":1}"# + "\n" + #"{"question":"Or?","choices":["u","v","w"]}"# + "\n", "good.jsonl")
        XCTAssertEqual(try DatasetFormat.detect(good), .multiplechoice)
        let dataset = try DatasetFormat.multiplechoice.load(good)
        XCTAssertEqual(dataset.samples.map(\.id), ["q", "2"])
        XCTAssertEqual(dataset.options, [" A", " B", " C"])
        XCTAssertEqual(dataset.samples[0].label, 2)
        XCTAssertEqual(dataset.samples[0].steps, 1)
        XCTAssertEqual(try dataset.samples[0].promptText(), "Which?\nA. x\nB. y\nC. z\nAnswer:")
        assertFails(try MultipleChoice.load(write(#"{"question":"Q","choices":["a","b"],"answer":2}"#, "range.jsonl")), mentioning: "range.jsonl:1:", "answer 2")
        assertFails(try MultipleChoice.load(write(#"{"question":"Q","choices":["a"]}"#, "one.jsonl")), mentioning: "one.jsonl:1:", "1 choices")
        assertFails(try MultipleChoice.load(write(#"{"question":"Q","choices":["a\nb","c"]}"#, "lines.jsonl")), mentioning: "lines.jsonl:1:", "one line")
        assertFails(try MultipleChoice.load(write(#"{"question":"Q","choices":"ab"}"#, "kind.jsonl")), mentioning: "kind.jsonl:1:", "list of strings")
        assertFails(try MultipleChoice.load(write(#"{"choices":["a","b"]}"#, "missing.jsonl")), mentioning: "missing.jsonl:1:", "\"question\"")
    }

    func testGeneratorIsSeededBalancedAndRoundTrips() throws {
        let samples = try MultipleChoice.generate(count: 24, steps: 1...3, choices: 4, seed: 11)
        XCTAssertEqual(try MultipleChoice.encode(samples), try MultipleChoice.encode(MultipleChoice.generate(count: 24, steps: 1...3, choices: 4, seed: 11)))
        XCTAssertNotEqual(try MultipleChoice.encode(samples), try MultipleChoice.encode(MultipleChoice.generate(count: 24, steps: 1...3, choices: 4, seed: 12)))
        XCTAssertEqual(Dictionary(grouping: samples, by: { $0.label! }).mapValues(\.count), [0: 6, 1: 6, 2: 6, 3: 6])
        XCTAssertEqual(Dictionary(grouping: samples, by: { $0.steps! }).mapValues(\.count), [1: 8, 2: 8, 3: 8])
        for sample in samples {
            // The right choice is reached from the entity in `steps` hops through the stated facts.
            let question = try XCTUnwrap(sample.question)
            guard case .array(let choices)? = sample.metadata["choices"], let right = choices[sample.label!].stringValue else { return XCTFail() }
            let facts = question.components(separatedBy: "\nQuestion:")[0]
            let entityFact = try XCTUnwrap(facts.components(separatedBy: ". ").first { !$0.hasPrefix("Every") })
            var current = String(entityFact.split(separator: " ").last!.trimmingCharacters(in: .punctuationCharacters))
            for _ in 0..<sample.steps! {
                let rule = try XCTUnwrap(facts.components(separatedBy: ". ").first { $0.hasPrefix("Every \(current) is") })
                current = String(rule.split(separator: " ").last!.trimmingCharacters(in: .punctuationCharacters))
            }
            XCTAssertTrue(right.hasSuffix(" " + current), "\(sample.id): \(right) vs \(current)")
        }
        let url = try write(try MultipleChoice.encode(samples), "generated.jsonl")
        XCTAssertEqual(try DatasetFormat.detect(url).load(url).samples, samples.map { sample in
            var copy = sample
            copy.metadata = JSONObject([("choices", sample.metadata["choices"]!)])
            return copy
        })
    }
}
