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

/// The public benchmark files, kept beside the clone at ../shared (never copied into the repo).
func publicDatasets(_ path: String) throws -> URL {
    let url = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/datasets-public").appendingPathComponent(path)
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw DatasetError(url.path, "the public datasets are missing (CI keeps them at ../shared beside the clone)")
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
