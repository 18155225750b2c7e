import Foundation
import XCTest
import ModelFormats

/// A committed reference fixture, parsed as plain JSON.
func loadJSONFixture(_ name: String) throws -> [String: Any] {
    let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil),
                            "missing fixture \(name)")
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
    return try XCTUnwrap(object as? [String: Any], "fixture \(name) is not a JSON object")
}

func fixtureURL(_ name: String) throws -> URL {
    try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil), "missing fixture \(name)")
}

/// The default model, or a failure that says how to fetch it.
func defaultModelURL() throws -> URL {
    do { return try DefaultModel.resolve() } catch {
        XCTFail("\(error)")
        throw error
    }
}

/// The SHA-256 of float32 values as little-endian bytes (the host order on every supported platform).
func sha256(of values: [Float]) -> String {
    values.withUnsafeBytes { FileDigest.sha256(of: $0) }
}
