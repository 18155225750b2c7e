import Foundation
import XCTest

@testable import LogicTasks

/// A file under Tests/LogicTasksTests/Fixtures.
func fixture(_ path: String) throws -> URL {
    let root = try XCTUnwrap(Bundle.module.resourceURL, "the test bundle has no resources")
    let url = root.appendingPathComponent("Fixtures").appendingPathComponent(path)
    guard FileManager.default.fileExists(atPath: url.path) else { throw DatasetError(url.path, "missing fixture") }
    return url
}

/// The repository root, found from this file's place in it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The public benchmark files (other people's text, never copied into the repo): under
/// `$QKPROBE_PUBLIC_DATA`, by default `../shared/datasets-public` beside the clone. Absent, the
/// test is skipped with the reason, unless `QKPROBE_REQUIRE_PUBLIC_DATA=1` (set by scripts/test.sh
/// under CI=true), where a skip would hide that the tests did not run: then it fails.
func publicDatasets(_ path: String) throws -> URL {
    let environment = ProcessInfo.processInfo.environment
    let root = environment["QKPROBE_PUBLIC_DATA"].map { URL(fileURLWithPath: $0, relativeTo: repositoryRoot) }
        ?? repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/datasets-public")
    let url = root.appendingPathComponent(path)
    guard FileManager.default.fileExists(atPath: url.path) else {
        let reason = "public datasets not found at \(url.standardizedFileURL.path) (set QKPROBE_PUBLIC_DATA to their folder)"
        if environment["QKPROBE_REQUIRE_PUBLIC_DATA"] == "1" { throw DatasetError(url.path, reason + "; required here") }
        throw XCTSkip(reason)
    }
    return url
}

/// The error a throwing expression throws, or a test failure.
func thrownError<T>(_ expression: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> Error? {
    do {
        _ = try expression()
        XCTFail("expected an error", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// Asserts that the expression fails with a one-line message containing every fragment.
func assertFails<T>(
    _ expression: @autoclosure () throws -> T, mentioning fragments: String..., file: StaticString = #filePath, line: UInt = #line
) {
    guard let error = thrownError(expression, file: file, line: line) else { return }
    let message = String(describing: error)
    XCTAssertFalse(message.contains("\n"), "not one line: \(message)", file: file, line: line)
    for fragment in fragments {
        XCTAssertTrue(message.contains(fragment), "\"\(message)\" does not mention \"\(fragment)\"", file: file, line: line)
    }
}
