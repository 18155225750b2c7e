import XCTest
@testable import Probe

final class AnchorTests: XCTestCase {
    // "Max is red.\nAnswer:" as [BOS] "Max" " is" " red" "." "\n" "Answer" ":"
    let offsets = [0..<0, 0..<3, 3..<6, 6..<10, 10..<11, 11..<12, 12..<18, 18..<19]

    func testAnchorIsTheTokenEndingTheQuestionLine() {
        XCTAssertEqual(anchorTokenIndex(offsets: offsets, anchorUTF8Offset: 11), 4)
    }

    func testTokenSpanningTheOffsetIsTheAnchor() {
        // ".\n" merged into one token.
        let merged = [0..<3, 3..<6, 6..<10, 10..<12, 12..<18, 18..<19]
        XCTAssertEqual(anchorTokenIndex(offsets: merged, anchorUTF8Offset: 11), 3)
    }

    func testEmptyRangesAndNothingBeforeTheOffset() {
        XCTAssertNil(anchorTokenIndex(offsets: [0..<0, 0..<3], anchorUTF8Offset: 0))
        XCTAssertNil(anchorTokenIndex(offsets: [], anchorUTF8Offset: 5))
    }
}
