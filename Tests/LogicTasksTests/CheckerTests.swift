import Foundation
import XCTest

@testable import LogicTasks

final class CheckerTests: XCTestCase {
    private func check(_ context: String, _ question: String, _ semantics: ReasoningSemantics = .openWorld) throws -> CheckResult {
        try LogicChecker.check(context: context, question: question, semantics: semantics)
    }

    func testOpenWorldProvesOrDisprovesWithTheDepth() throws {
        let context = "Every dax is a zorb. Max is a wug. Every zorb is not bright. Every wug is a dax. Every snib is bright. Sam is a snib."
        XCTAssertEqual(try check(context, "True or false: Max is bright."), CheckResult(answer: false, steps: 3, sentences: 6))
        XCTAssertEqual(try check(context, "True or false: Max is not bright."), CheckResult(answer: true, steps: 3, sentences: 6))
        XCTAssertEqual(try check(context, "True or false: Sam is bright."), CheckResult(answer: true, steps: 1, sentences: 6))
        XCTAssertEqual(try check(context, "True or false: Max is a zorb."), CheckResult(answer: true, steps: 2, sentences: 6))
    }

    func testShortestProofCounts() throws {
        let context = "Max is a wug. Every wug is a dax. Every dax is a zorb. Every zorb is red. Every wug is red."
        XCTAssertEqual(try check(context, "True or false: Max is red.").steps, 1)
    }

    func testProntoQAPhrasingParsesToTheSameRules() throws {
        let context = "Wugs are daxes. Each dax is not nervous. Max is a wug. Zorbs are nervous. Every obbit is an impus."
        XCTAssertEqual(try check(context, "Is the following statement true or false? Max is nervous."), CheckResult(answer: false, steps: 2, sentences: 5))
        XCTAssertEqual(SentenceParser.singular("wumpuses"), "wumpus")
        XCTAssertEqual(SentenceParser.singular("daxes"), "dax")
        XCTAssertEqual(SentenceParser.singular("wugs"), "wug")
    }

    func testOpenWorldRefusesWhatItCannotSettle() {
        assertFails(try check("Max is a wug. Every wug is red.", "True or false: Max is cold."), mentioning: "neither", "cold")
        assertFails(
            try check("Max is a wug. Every wug is red. Every wug is a dax. Every dax is not red.", "True or false: Max is red."),
            mentioning: "inconsistent", "Max is red")
        assertFails(try check("Max is a wug. Wugs eat daxes.", "True or false: Max is red."), mentioning: "Wugs eat daxes.")
        assertFails(try check("Max is a wug.", "Is Max a wug?"), mentioning: "True or false")
        assertFails(try check("Max is a wug. Every wug is red", "True or false: Max is red."), mentioning: "cannot parse", "Every wug is red")
    }

    func testClosedWorldNegationAsFailure() throws {
        let context = "Max is red. Sam is red. Sam is cold. If something is red and not cold then it is soft. If something is soft then it is round."
        XCTAssertEqual(try check(context, "True or false: Max is round.", .closedWorld), CheckResult(answer: true, steps: 2, sentences: 5))
        XCTAssertEqual(try check(context, "True or false: Sam is round.", .closedWorld), CheckResult(answer: false, steps: 2, sentences: 5), "cut: the depth of the chain it would follow")
        XCTAssertEqual(try check(context, "True or false: Sam is not round.", .closedWorld).answer, true)
        XCTAssertEqual(try check(context, "True or false: Max is not cold.", .closedWorld), CheckResult(answer: true, steps: 0, sentences: 5), "no chain leads to it")
    }

    func testClosedWorldStrataComeBeforeTheirNegation() throws {
        // "tall" must be complete before "not tall" is read, whatever the rule order.
        let context = "If something is red and not tall then it is soft. If something is big then it is tall. Max is red. Max is big."
        XCTAssertEqual(try check(context, "True or false: Max is soft.", .closedWorld).answer, false)
        let chained = "If something is red then it is big. If something is big and not cold then it is soft. Max is red."
        XCTAssertEqual(try check(chained, "True or false: Max is soft.", .closedWorld), CheckResult(answer: true, steps: 2, sentences: 3))
    }

    func testClosedWorldRefusals() {
        assertFails(try check("Max is red. If something is red and not soft then it is soft.", "True or false: Max is soft.", .closedWorld), mentioning: "not stratified")
        assertFails(try check("Max is not red.", "True or false: Max is red.", .closedWorld), mentioning: "positive")

    }

    /// An outside check of the checker: the 500 ProntoQA problems of Logic-LLM, all 5 hops.
    func testProvesEveryLogicLLMProntoQAProblem() throws {
        let dataset = try DatasetFormat.prontoqa.load(publicDatasets("prontoqa-logic-llm/dev.json"))
        XCTAssertEqual(dataset.samples.count, 500)
        for sample in dataset.samples {
            let result = try check(try XCTUnwrap(sample.context), try XCTUnwrap(sample.question))
            XCTAssertEqual(result.answer, sample.label == 0, sample.id)
            XCTAssertEqual(result.steps, 5, sample.id)
        }
    }
}
