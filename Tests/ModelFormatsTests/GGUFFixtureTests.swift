import Foundation
import GGUFTestSupport
import XCTest
@testable import ModelFormats

/// Compares the reader with gguf-py on the files that `reference/make_gguf_fixtures.py` writes.
final class GGUFFixtureTests: XCTestCase {
    private func manifest(_ file: String) throws -> [String: Any] {
        let all = try loadJSONFixture("gguf/manifest.json")
        return try XCTUnwrap(all[file] as? [String: Any], "manifest has no entry for \(file)")
    }

    func testMetadataOfEveryValueType() throws {
        let gguf = try GGUFFile(url: fixtureURL("gguf/quants.gguf"))
        let expected = try XCTUnwrap(manifest("quants.gguf")["metadata"] as? [String: [String: Any]])
        XCTAssertEqual(Set(gguf.metadataKeys), Set(expected.keys))
        XCTAssertEqual(Set(expected.values.compactMap { $0["type"] as? String }).count, GGUFValueType.allCases.count,
                       "the fixture should hold every value type")
        for key in gguf.metadataKeys {
            assertValue(try XCTUnwrap(gguf.value(key)), expected[key] ?? [:], at: key)
        }
        XCTAssertEqual(gguf.intArray("test.array.uint16"), [0, 1, 65535])
        XCTAssertEqual(gguf.floatArray("test.array.float32"), [0.5, -1.25, 3.0])
        XCTAssertEqual(gguf.stringArray("test.array.string"), ["a", "", "Ġt he"])
        XCTAssertEqual(gguf.int("test.uint64"), nil, "18e18 does not fit in Int")
        XCTAssertEqual(gguf.int("test.int64"), -9_000_000_000_000_000_000)
    }

    private func assertValue(_ value: GGUFValue, _ expected: [String: Any], at path: String) {
        let type = expected["type"] as? String
        XCTAssertEqual("\(value.type)", type, path)
        let raw = expected["value"]
        switch value {
        case .uint64(let v): XCTAssertEqual("\(v)", raw as? String, path)
        case .int64(let v): XCTAssertEqual("\(v)", raw as? String, path)
        case .float32(let v): XCTAssertEqual(v, (raw as? NSNumber).map { Float($0.doubleValue) }, path)
        case .float64(let v): XCTAssertEqual(v, (raw as? NSNumber)?.doubleValue, path)
        case .bool(let v): XCTAssertEqual(v, (raw as? NSNumber)?.boolValue, path)
        case .string(let v): XCTAssertEqual(v, raw as? String, path)
        case .array(let elementType, let elements):
            XCTAssertEqual("\(elementType)", expected["element_type"] as? String, path)
            let expectedElements = raw as? [[String: Any]] ?? []
            XCTAssertEqual(elements.count, expectedElements.count, path)
            for (index, (element, expectedElement)) in zip(elements, expectedElements).enumerated() {
                assertValue(element, expectedElement, at: "\(path)[\(index)]")
            }
        default: XCTAssertEqual(value.intValue, raw as? Int, path)
        }
    }

    /// Dequantised values must equal gguf-py's bit for bit (NaN payloads included), so the largest
    /// error per type is 0; the test measures it anyway and prints it.
    func testDequantisationOfEveryTypeMatchesGGUFPy() throws {
        let gguf = try GGUFFile(url: fixtureURL("gguf/quants.gguf"))
        let description = try manifest("quants.gguf")
        let expectedValues = try Data(contentsOf: fixtureURL("gguf/\(XCTUnwrap(description["values_file"] as? String))"))
            .withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)).map(UInt32.init(littleEndian:)) }
        XCTAssertEqual(gguf.dataOffset, description["data_offset"] as? Int)

        var largestError: [String: Double] = [:]
        let tensors = try XCTUnwrap(description["tensors"] as? [[String: Any]])
        XCTAssertEqual(gguf.tensorInfos.map(\.name), tensors.compactMap { $0["name"] as? String })
        for expected in tensors {
            let name = try XCTUnwrap(expected["name"] as? String)
            let info = try XCTUnwrap(gguf.tensorInfo(name))
            XCTAssertEqual(info.type.description, expected["type"] as? String, name)
            XCTAssertEqual(info.shape, expected["shape"] as? [Int], name)
            XCTAssertEqual(info.offset, expected["offset"] as? Int, name)
            let tensor = try gguf.tensor(name)
            XCTAssertEqual(tensor.shape, info.shape, name)
            XCTAssertEqual(tensor.count, expected["count"] as? Int, name)
            XCTAssertEqual(sha256(of: tensor.data), expected["sha256"] as? String, name)
            guard let start = expected["values_at"] as? Int else { continue }
            let reference = expectedValues[start ..< start + tensor.count]
            var error = 0.0
            for (got, want) in zip(tensor.data, reference) {
                let wantFloat = Float(bitPattern: want)
                if got.bitPattern == want { continue }
                // Bit patterns differ: a real error, or a NaN with another payload (counted as infinite).
                error = max(error, got.isNaN || wantFloat.isNaN ? .infinity : Double(abs(got - wantFloat)))
            }
            largestError[info.type.description] = max(largestError[info.type.description] ?? 0, error)
        }
        XCTAssertEqual(Set(largestError.keys), ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K"])
        for (type, error) in largestError.sorted(by: { $0.key < $1.key }) {
            print("largest dequantisation error against gguf-py, \(type): \(error)")
            XCTAssertEqual(error, 0, type)
        }
    }

    func testVersion2WithCustomAlignment() throws {
        let gguf = try GGUFFile(url: fixtureURL("gguf/aligned64_v2.gguf"))
        let description = try manifest("aligned64_v2.gguf")
        XCTAssertEqual(Int(gguf.version), description["version"] as? Int)
        XCTAssertEqual(gguf.version, 2)
        XCTAssertEqual(gguf.alignment, description["alignment"] as? Int)
        XCTAssertEqual(gguf.alignment, 64)
        XCTAssertEqual(gguf.dataOffset, description["data_offset"] as? Int)
        for expected in try XCTUnwrap(description["tensors"] as? [[String: Any]]) {
            let name = try XCTUnwrap(expected["name"] as? String)
            XCTAssertEqual(gguf.tensorInfo(name)?.offset, expected["offset"] as? Int, name)
            XCTAssertEqual(try sha256(of: gguf.tensor(name).data), expected["sha256"] as? String, name)
        }
    }

    func testTypeWithoutDecoderOpensButRefusesToDequantise() throws {
        // An IQ-type tensor: sizes are known, values are not decodable here.
        let bytes = GGUFBuilder(tensors: [.init(name: "iq", dims: [256], type: GGMLType.iq4_XS.rawValue,
                                                data: Data(count: GGMLType.iq4_XS.blockLayout.bytes))]).build()
        let url = try writeTemporary(bytes, name: "iq4xs.gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        let gguf = try GGUFFile(url: url)
        XCTAssertEqual(gguf.tensorInfo("iq")?.type, .iq4_XS)
        XCTAssertThrowsError(try gguf.tensor("iq")) { error in
            XCTAssertTrue("\(error)".contains("IQ4_XS"), "\(error)")
        }
    }
}
