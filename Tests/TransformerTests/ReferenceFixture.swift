import Foundation
import ModelFormats
import XCTest
@testable import Transformer

func fixtureURL(_ name: String) throws -> URL {
    try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil), "missing fixture \(name)")
}

/// Reference outputs written by reference/make_runtime_fixtures.py: `reference.json` lists the
/// arrays of `reference.bin` (little-endian float32 / int32, row-major).
struct ReferenceFixture: Sendable {
    let name: String
    private let arrays: [String: Entry]
    private let blob: Data

    private struct Entry: Sendable {
        let dtype: String
        let shape: [Int]
        let offset: Int
    }

    init(_ name: String) throws {
        self.name = name
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL("\(name)/reference.json")))
        let entries = try XCTUnwrap((manifest as? [String: Any])?["arrays"] as? [String: [String: Any]], "\(name): bad manifest")
        arrays = try entries.mapValues { entry in
            Entry(dtype: try XCTUnwrap(entry["dtype"] as? String), shape: try XCTUnwrap(entry["shape"] as? [Int]),
                  offset: try XCTUnwrap(entry["offset"] as? Int))
        }
        blob = try Data(contentsOf: fixtureURL("\(name)/reference.bin"))
    }

    func floats(_ array: String) throws -> (shape: [Int], values: [Float]) {
        let (shape, bytes) = try raw(array, dtype: "f32")
        return (shape, bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
    }

    func ints(_ array: String) throws -> [Int] {
        let (_, bytes) = try raw(array, dtype: "i32")
        return bytes.withUnsafeBytes { $0.bindMemory(to: Int32.self).map(Int.init) }
    }

    private func raw(_ array: String, dtype: String) throws -> ([Int], Data) {
        let entry = try XCTUnwrap(arrays[array], "\(name): no array \(array)")
        XCTAssertEqual(entry.dtype, dtype, "\(name): \(array)")
        let count = entry.shape.reduce(1, *) * 4
        return (entry.shape, Data(blob[entry.offset ..< entry.offset + count]))
    }
}

/// Largest |a - b| and whether every element is within `max(absolute, relative · |b|)`.
struct Comparison: CustomStringConvertible {
    private(set) var maxAbsolute: Float = 0
    private(set) var maxRelative: Float = 0
    private(set) var failures = 0
    private(set) var firstFailure: String?

    /// Elementwise: logits within 1e-3 absolute, or 1e-4 relative for larger values.
    mutating func elementwise(_ actual: some Collection<Float>, _ expected: some Collection<Float>,
                              absolute: Float = 1e-3, relative: Float = 1e-4, _ label: @autoclosure () -> String) {
        XCTAssertEqual(actual.count, expected.count, label())
        for (index, (a, b)) in zip(actual, expected).enumerated() {
            let error = abs(a - b)
            maxAbsolute = max(maxAbsolute, error)
            if abs(b) > 1 { maxRelative = max(maxRelative, error / abs(b)) }
            if !(error <= max(absolute, relative * abs(b))) { fail("\(label())[\(index)]: \(a) vs \(b)") }
        }
    }

    /// Per vector: max |a - b| within `relative` of the vector's max |b| (q, k, v, hidden states).
    mutating func vector(_ actual: some Collection<Float>, _ expected: some Collection<Float>,
                         relative: Float = 1e-4, _ label: @autoclosure () -> String) {
        XCTAssertEqual(actual.count, expected.count, label())
        let scale = expected.map(abs).max() ?? 0
        let error = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
        maxAbsolute = max(maxAbsolute, error)
        if scale > 0 { maxRelative = max(maxRelative, error / scale) }
        if !(error <= relative * scale) { fail("\(label()): max error \(error) at scale \(scale)") }
    }

    private mutating func fail(_ message: String) {
        failures += 1
        if firstFailure == nil { firstFailure = message }
    }

    func assertPassed(_ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(failures, 0, "\(what): \(failures) values out of tolerance, first \(firstFailure ?? "")", file: file, line: line)
    }

    var description: String { "max abs \(maxAbsolute), max rel \(maxRelative)" }
}

/// A weight source with some tensors hidden or reported with another shape.
struct TamperedSource: WeightSource {
    let base: any WeightSource
    var hidden: Set<String> = []
    var reshaped: [String: [Int]] = [:]

    var path: String { base.path }
    var tensorNames: [String] { base.tensorNames.filter { !hidden.contains($0) } }

    func shape(of name: String) -> [Int]? {
        hidden.contains(name) ? nil : reshaped[name] ?? base.shape(of: name)
    }

    func tensor(_ name: String) throws -> Tensor {
        guard let shape = shape(of: name) else { throw ModelFormatError(path, "no tensor named \(name)") }
        let values = try base.tensor(name).data
        return Tensor(shape: shape, data: Array(values.prefix(shape.reduce(1, *))))
    }
}
