import Foundation
import GGUFTestSupport
import XCTest
@testable import ModelFormats

/// A malformed file and a phrase its error message must contain.
struct MalformedFile {
    let label: String
    let fileName: String
    let bytes: Data
    let problem: [String]

    /// - Parameter problem: phrases of which the error message must contain at least one.
    init(_ label: String, _ fileName: String, _ bytes: Data, _ problem: [String]) {
        self.label = label
        self.fileName = fileName
        self.bytes = bytes
        self.problem = problem
    }
}

/// Opens every file with `open` and checks that each fails with a `ModelFormatError` for that file
/// whose message names the problem. Returns how many files were checked.
@discardableResult
func assertAllRejected(_ files: [MalformedFile], open: (URL) throws -> Void,
                       file: StaticString = #filePath, line: UInt = #line) throws -> Int {
    for malformed in files {
        let url = try writeTemporary(malformed.bytes, name: malformed.fileName)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        do {
            try open(url)
            XCTFail("\(malformed.label): opened without error", file: file, line: line)
        } catch let error as ModelFormatError {
            XCTAssertEqual(error.path, url.path, malformed.label, file: file, line: line)
            XCTAssertTrue(malformed.problem.contains { error.problem.contains($0) },
                          "\(malformed.label): \"\(error.problem)\" does not mention \(malformed.problem)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "\(malformed.label): message spans lines", file: file, line: line)
        } catch {
            XCTFail("\(malformed.label): threw \(type(of: error)), not ModelFormatError: \(error)", file: file, line: line)
        }
    }
    return files.count
}

/// A valid small GGUF file and its malformed variants.
enum MalformedGGUF {
    static let f32Values: [Float] = [1, -2, 0.5, 3]

    static func f32Data() -> Data {
        var data = Data()
        for value in f32Values { data.append(le: value.bitPattern) }
        return data
    }

    static func q8Data() -> Data {
        var data = Data([0x00, 0x3C]) // f16 1.0
        data.append(contentsOf: (0 ..< 32).map { UInt8(bitPattern: Int8($0 - 16)) })
        return data
    }

    static var valid: GGUFBuilder {
        GGUFBuilder(
            keyValues: [.string("general.architecture", "llama"), .uint32("llama.block_count", 1),
                        .stringArray("tokenizer.ggml.tokens", ["a", "b", "c"])],
            tensors: [.init(name: "norm", dims: [4], type: GGMLType.f32.rawValue, data: f32Data()),
                      .init(name: "q8", dims: [32, 1], type: GGMLType.q8_0.rawValue, data: q8Data())])
    }

    static func with(_ change: (inout GGUFBuilder) -> Void) -> Data {
        var builder = valid
        change(&builder)
        return builder.build()
    }

    static func keyValue(_ type: UInt32, _ payload: Data, key: String = "x") -> Data {
        with { $0.keyValues.append(.init(rawKey: Array(key.utf8), type: type, payload: payload)) }
    }

    static func payload(_ build: (inout Data) -> Void) -> Data {
        var data = Data()
        build(&data)
        return data
    }

    static func files() -> [MalformedFile] {
        let good = valid.build()
        var files: [MalformedFile] = []
        func add(_ label: String, _ bytes: Data, _ problem: String...) {
            files.append(MalformedFile(label, "case\(files.count).gguf", bytes, problem))
        }

        // Truncated anywhere: in the header, the metadata, the tensor infos, the data.
        let cuts = Array(0 ..< 40) + Array(stride(from: 40, to: good.count, by: 23)) + [good.count - 1]
        for cut in Set(cuts).sorted() {
            files.append(MalformedFile("truncated at \(cut) of \(good.count)", "cut\(cut).gguf", good.prefix(cut),
                                       ["truncated", "past the end", "remaining bytes"]))
        }

        add("bad magic", with { $0.magic = Array("GGUG".utf8) }, "not a GGUF file")
        add("version 1", with { $0.version = 1 }, "unsupported GGUF version 1")
        add("version 4", with { $0.version = 4 }, "unsupported GGUF version 4")
        add("big-endian", with { $0.version = UInt32(3).byteSwapped }, "big-endian")
        add("huge tensor count", with { $0.tensorCountOverride = .max }, "tensor count")
        add("huge kv count", with { $0.keyValueCountOverride = 1 << 60 }, "key-value count")
        add("tensor count one too many", with { $0.tensorCountOverride = 3 }, "truncated", "past the end", "remaining bytes")
        add("huge key length", good.replacingLength(at: 24, with: .max), "length")
        add("huge string value length", keyValue(8, payload { $0.append(le: UInt64(1) << 62) }), "length")
        add("string length past end", keyValue(8, payload { $0.append(le: UInt64(5000)) }), "past the end")
        add("unknown value type", keyValue(13, Data([1, 2, 3, 4])), "unknown value type 13")
        add("unknown array element type", keyValue(9, payload { $0.append(le: UInt32(99)); $0.append(le: UInt64(1)) }),
            "unknown value type 99")
        add("huge array count", keyValue(9, payload { $0.append(le: UInt32(4)); $0.append(le: UInt64.max) }), "array length")
        add("array count past end", keyValue(9, payload { $0.append(le: UInt32(10)); $0.append(le: UInt64(1000)) }), "array length")
        add("arrays nested too deep", keyValue(9, payload { data in
            for _ in 0 ..< 40 { data.append(le: UInt32(9)); data.append(le: UInt64(1)) }
            data.append(le: UInt32(0)); data.append(le: UInt64(0))
        }), "nests arrays deeper")
        add("bool byte 2", keyValue(7, Data([2])), "bool with byte value 2")
        add("invalid UTF-8 key", with { $0.keyValues.append(.init(rawKey: [0x61, 0xFF, 0xFE], type: 4, payload: Data(count: 4))) },
            "not valid UTF-8")
        add("overlong UTF-8 key", with { $0.keyValues.append(.init(rawKey: [0xC0, 0xAF], type: 4, payload: Data(count: 4))) },
            "not valid UTF-8")
        add("invalid UTF-8 string value", keyValue(8, payload { $0.append(ggufString: [0x80, 0x41]) }), "not valid UTF-8")
        add("invalid UTF-8 tensor name", with { $0.tensors[0].name = [0xED, 0xA0, 0x80] }, "not valid UTF-8")
        add("duplicate key", with { $0.keyValues.append(.uint32("llama.block_count", 2)) }, "duplicate metadata key llama.block_count")
        add("duplicate tensor name", with { $0.tensors[1].name = Array("norm".utf8); $0.tensors[1].dims = [4]; $0.tensors[1].type = 0; $0.tensors[1].data = f32Data() },
            "duplicate tensor name norm")
        add("alignment not a power of two", with { $0.keyValues.append(.uint32("general.alignment", 24)) }, "not a power of two")
        add("alignment zero", with { $0.keyValues.append(.uint32("general.alignment", 0)) }, "not a power of two")
        add("alignment of the wrong type", with { $0.keyValues.append(.string("general.alignment", "32")) }, "general.alignment must be uint32")
        add("zero dimensions", with { $0.tensors[0].dims = [] }, "0 dimensions")
        add("five dimensions", with { $0.tensors[0].dims = [1, 1, 1, 1, 4] }, "5 dimensions")
        add("huge dimension count", with { $0.tensors[0].dims = Array(repeating: 1, count: 100_000) }, "100000 dimensions")
        add("dimension beyond Int", with { $0.tensors[0].dims = [.max] }, "too large")
        add("shape product overflows", with { $0.tensors[0].dims = [1 << 32, 1 << 32] }, "more elements than fit in 64 bits")
        add("byte size overflows", with { $0.tensors[0].dims = [1 << 40, 1 << 22] }, "byte size overflows", "more elements")
        add("unknown ggml type", with { $0.tensors[0].type = 99 }, "unknown ggml type 99")
        add("removed ggml type Q4_2", with { $0.tensors[0].type = 4 }, "unknown ggml type 4")
        add("misaligned offset", with { $0.tensors[1].offset = 36 }, "not a multiple of the alignment 32")
        add("offset past the end", with { $0.tensors[1].offset = 1 << 30 }, "runs past the end")
        add("offset beyond Int", with { $0.tensors[1].offset = .max }, "too large")
        add("shape larger than the data", with { $0.tensors[1].dims = [32, 1000] }, "runs past the end")
        add("row not a whole number of blocks", with { $0.tensors[1].dims = [48] }, "not a multiple of the Q8_0 block size 32")
        add("empty file", Data(), "truncated")
        return files
    }
}

private extension Data {
    /// Overwrites the 64-bit value at `offset` (24: the first key's length, after magic, version and counts).
    func replacingLength(at offset: Int, with value: UInt64) -> Data {
        var copy = self
        var field = Data()
        field.append(le: value)
        copy.replaceSubrange(offset ..< offset + 8, with: field)
        return copy
    }
}

final class MalformedGGUFTests: XCTestCase {
    func testValidBaseFileOpens() throws {
        let url = try writeTemporary(MalformedGGUF.valid.build(), name: "valid.gguf")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let gguf = try GGUFFile(url: url)
        XCTAssertEqual(gguf.tensorNames, ["norm", "q8"])
        XCTAssertEqual(try gguf.tensor("norm").data, MalformedGGUF.f32Values)
        XCTAssertEqual(try gguf.tensor("q8").data, (0 ..< 32).map { Float($0 - 16) })
        XCTAssertEqual(gguf.stringArray("tokenizer.ggml.tokens"), ["a", "b", "c"])
    }

    func testEveryMalformedFileIsRejectedWithItsProblemNamed() throws {
        let files = MalformedGGUF.files()
        XCTAssertGreaterThanOrEqual(files.count, 50)
        try assertAllRejected(files) { url in
            let gguf = try GGUFFile(url: url)
            // Whatever opened must also read back safely.
            for name in gguf.tensorNames { _ = try gguf.tensor(name) }
        }
    }
}
