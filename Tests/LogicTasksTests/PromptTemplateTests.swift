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
