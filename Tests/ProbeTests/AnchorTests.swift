import LogicTasks
import XCTest
@testable import Probe

final class AnchorTests: XCTestCase {
    // "Max is red.\nAnswer:" as [BOS] "Max" " is" " red" "." "\n" "Answer" ":"
    let offsets = [0..<0, 0..<3, 3..<6, 6..<10, 10..<11, 11..<12, 12..<18, 18..<19]
    let prompt = try! LogicSample(id: "s", prompt: "Max is red.\nAnswer:", options: AnswerOptions.yesNo).rendered()

    func testQuestionEndIsTheTokenEndingTheQuestionLine() {
        XCTAssertEqual(anchorTokenIndex(offsets: offsets, utf8Offset: 11), 4)
        XCTAssertEqual(anchorTokenIndex(offsets: offsets, prompt: prompt, rule: .questionEnd), 4)
    }

    func testBeforeCueIsTheNewline() {
        XCTAssertEqual(anchorTokenIndex(offsets: offsets, prompt: prompt, rule: .beforeCue), 5)
    }

    func testTokenSpanningTheQuestionEndIsTheAnchor() {
        // ".\n" merged into one token: it ends the question and is also the last token before the cue.
        let merged = [0..<3, 3..<6, 6..<10, 10..<12, 12..<18, 18..<19]
        XCTAssertEqual(anchorTokenIndex(offsets: merged, prompt: prompt, rule: .questionEnd), 3)
        XCTAssertEqual(anchorTokenIndex(offsets: merged, prompt: prompt, rule: .beforeCue), 3)
    }

    func testTokenMergedWithTheCueBelongsToTheCue() {
        // "\nAnswer" merged into one token: the anchor before the cue is the token before it.
        let merged = [0..<3, 3..<6, 6..<10, 10..<11, 11..<18, 18..<19]
        XCTAssertEqual(anchorTokenIndex(offsets: merged, prompt: prompt, rule: .beforeCue), 3)
        XCTAssertEqual(anchorTokenIndex(offsets: merged, prompt: prompt, rule: .questionEnd), 3)
    }

    func testEmptyRangesAndNothingBeforeTheOffset() {
        XCTAssertNil(anchorTokenIndex(offsets: [0..<0, 0..<3], utf8Offset: 0))
        XCTAssertNil(anchorTokenIndex(offsets: [], utf8Offset: 5))
        XCTAssertNil(anchorTokenIndex(offsets: [0..<0, 0..<3], utf8Offset: 2, tokenMayCross: false))
        XCTAssertNil(anchorTokenIndex(offsets: offsets, prompt: prompt, rule: .marked), "no mark, no anchor")
    }
}
