import XCTest

@testable import LogicTasks

final class JSONTests: XCTestCase {
    private func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

    func testParsesEveryKindAndKeepsKeyOrder() throws {
        let value = try parse(#" {"z": [1, -2.5e3, true, false, null], "a": {"b": "c"}, "m": 12345678901234567890} "#)
        guard case .object(let object) = value else { return XCTFail("not an object") }
        XCTAssertEqual(object.keys, ["z", "a", "m"])
        XCTAssertEqual(object["z"], .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))
        XCTAssertEqual(object["a"], .object(JSONObject([("b", .string("c"))])))
        XCTAssertEqual(object["m"]?.intValue, nil, "beyond Int: no silent rounding")
        XCTAssertEqual(object["m"], .number("12345678901234567890"), "the digits survive")
        XCTAssertEqual(object["z"].flatMap { if case .array(let items) = $0 { items[0].intValue } else { nil } }, 1)
        XCTAssertNil(JSONValue.number("2.0").intValue, "a fraction is not an integer")
    }

    func testStringEscapesAndUnicode() throws {
        let value = try parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00 ☕""#)
        XCTAssertEqual(value, .string("a\"b\\c/d\n\té😀 ☕"))
        XCTAssertEqual(try parse(value.serialized), value, "what we write reads back the same")
        XCTAssertEqual(JSONValue.string("x\u{1}\"").serialized, #""x\u0001\"""#)
    }

    func testSerializationIsCompactAndOrdered() {
        let object = JSONObject([("id", .string("a")), ("n", .integer(-3)), ("list", .array([.null, .bool(true)]))])
        XCTAssertEqual(JSONValue.object(object).serialized, #"{"id":"a","n":-3,"list":[null,true]}"#)
    }

    func testSyntaxErrorsSayWhereAndWhy() {
        let cases: [(String, Int, String)] = [
            (#"{"a": 1,, }"#, 8, "expected a quoted key"),
            (#"{"a": tru}"#, 6, "invalid literal"),
            (#"{"a": "x"#, 8, "unterminated string"),
            ("[1, 2", 5, "end of input"),
            (#"{"a": 1} x"#, 9, "after the JSON value"),
            (#"{"a": 01}"#, 6, "leading zero"),
            (#"{"a": 1, "a": 2}"#, 9, "duplicate key"),
            (#""\ud800""#, 7, "surrogate"),
            ("\"a\nb\"", 2, "control character"),
            ("", 0, "no JSON value"),
        ]
        for (text, offset, reason) in cases {
            do {
                _ = try parse(text)
                XCTFail("accepted \(text)")
            } catch {
                XCTAssertEqual(error.offset, offset, text)
                XCTAssertTrue(error.reason.contains(reason), "\(text): \(error.reason)")
            }
        }
    }

    func testInvalidUTF8InsideAStringIsAnError() {
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0x61, 0xFF, 0x22])) { error in
            XCTAssertTrue((error as? JSONSyntaxError)?.reason.contains("UTF-8") ?? false)
        }
    }

    func testDeepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 100_000)
        XCTAssertThrowsError(try parse(deep)) { error in
            XCTAssertTrue((error as? JSONSyntaxError)?.reason.contains("nesting") ?? false)
        }
        let fine = String(repeating: "[", count: JSONValue.maximumDepth) + String(repeating: "]", count: JSONValue.maximumDepth)
        XCTAssertNoThrow(try parse(fine))
    }
}
