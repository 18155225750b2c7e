import Foundation
import GGUFTestSupport
import XCTest
@testable import ModelFormats

/// A valid small safetensors file and its malformed variants.
enum MalformedSafetensors {
    /// A file from a header (JSON text or raw bytes) and a data section.
    static func file(_ header: String, data: Data = Data(count: 16), length: UInt64? = nil) -> Data {
        file(Data(header.utf8), data: data, length: length)
    }

    static func file(_ header: Data, data: Data, length: UInt64? = nil) -> Data {
        var out = Data()
        out.append(le: length ?? UInt64(header.count))
        out.append(header)
        out.append(data)
        return out
    }

    /// Two F32 tensors of 2 values each.
    static let validHeader = #"{"__metadata__": {"format": "pt"}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1, 2], "data_offsets": [8, 16]}}"#

    static func tensor(_ fields: String) -> Data {
        file(#"{"t": {\#(fields)}}"#, data: Data(count: 8))
    }

    static func files() -> [MalformedFile] {
        let good = file(validHeader)
        var files: [MalformedFile] = []
        func add(_ label: String, _ bytes: Data, _ problem: String...) {
            files.append(MalformedFile(label, "case\(files.count).safetensors", bytes, problem))
        }
        for cut in [0, 1, 7, 8, 9, 50, good.count - 17, good.count - 16, good.count - 9, good.count - 1] {
            files.append(MalformedFile("truncated at \(cut) of \(good.count)", "cut\(cut).safetensors", good.prefix(cut),
                                       ["truncated", "header length"]))
        }
        add("huge header length", file(validHeader, length: .max), "header length 18446744073709551615")
        add("header length over the file", file(validHeader, length: 10_000), "header length 10000 is more than")
        add("header is not JSON", file("not json at all"), "does not start with '{'")
        add("header is a JSON array", file("[1, 2]"), "does not start with '{'")
        add("header is cut JSON", file(#"{"a": {"dtype": "F32""#), "not valid UTF-8 JSON")
        add("header with invalid UTF-8", file(Data([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]), data: Data()), "not valid UTF-8 JSON")
        add("entry is not an object", tensor("").replacingHeader(#"{"t": 5}"#), "tensor t is not a JSON object")
        add("dtype missing", tensor(#""shape": [2], "data_offsets": [0, 8]"#), "tensor t has no dtype")
        add("unknown dtype", tensor(#""dtype": "F17", "shape": [2], "data_offsets": [0, 8]"#), "unknown dtype F17")
        add("sub-byte dtype", tensor(#""dtype": "F4", "shape": [16], "data_offsets": [0, 8]"#), "unknown dtype F4")
        add("dtype not a string", tensor(#""dtype": 32, "shape": [2], "data_offsets": [0, 8]"#), "has no dtype")
        add("shape missing", tensor(#""dtype": "F32", "data_offsets": [0, 8]"#), "has no shape")
        add("negative dimension", tensor(#""dtype": "F32", "shape": [-2], "data_offsets": [0, 8]"#), "not a list of non-negative integers")
        add("fractional dimension", tensor(#""dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]"#), "not a list of non-negative integers")
        add("boolean dimension", tensor(#""dtype": "F32", "shape": [true, 2], "data_offsets": [0, 8]"#), "not a list of non-negative integers")
        add("shape is a string", tensor(#""dtype": "F32", "shape": "2", "data_offsets": [0, 8]"#), "has no shape")
        add("offsets missing", tensor(#""dtype": "F32", "shape": [2]"#), "data_offsets")
        add("one offset", tensor(#""dtype": "F32", "shape": [2], "data_offsets": [8]"#), "data_offsets")
        add("offsets reversed", tensor(#""dtype": "F32", "shape": [2], "data_offsets": [8, 0]"#), "begin <= end")
        add("negative offset", tensor(#""dtype": "F32", "shape": [2], "data_offsets": [-8, 0]"#), "data_offsets")
        add("offset beyond 64 bits", tensor(#""dtype": "F32", "shape": [2], "data_offsets": [0, 1e30]"#), "data_offsets")
        add("shape against byte size", tensor(#""dtype": "F32", "shape": [3], "data_offsets": [0, 8]"#),
            "shape [3] of F32 needs 12 bytes, its data_offsets span 8")
        add("dtype against byte size", tensor(#""dtype": "F16", "shape": [2], "data_offsets": [0, 8]"#), "needs 4 bytes")
        add("shape product overflows", tensor(#""dtype": "F32", "shape": [1099511627776, 1099511627776], "data_offsets": [0, 8]"#),
            "more elements than fit in 64 bits")
        add("byte size overflows", tensor(#""dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 8]"#),
            "more than 2^63")
        add("tensor past the data", file(#"{"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#, data: Data(count: 8)),
            "tensor t at data offsets 0..<16 runs past the end of the 8-byte data section")
        add("offset far past the data", file(#"{"t": {"dtype": "F32", "shape": [2], "data_offsets": [1000000, 1000008]}}"#, data: Data(count: 8)),
            "runs past the end")
        add("bytes left over", file(validHeader, data: Data(count: 24)), "tensors cover 16 bytes of data, the file has 24")
        add("gap between tensors", file(#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}"#),
            "tensor b at data offsets 8..<16 leaves a gap")
        add("overlapping tensors", file(#"{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}"#),
            "overlaps the tensor before it")
        add("duplicate tensor name", file(#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}"#),
            "leaves a gap", "tensors cover")
        add("metadata not strings", file(#"{"__metadata__": {"n": 1}, "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#),
            "__metadata__ must map strings to strings")
        add("header starts with a space", file(" " + validHeader), "does not start with '{'")
        return files
    }
}

private extension Data {
    /// The same data section under another header (the first 8 bytes hold the header length).
    func replacingHeader(_ header: String) -> Data {
        let length = Int(self.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        return MalformedSafetensors.file(header, data: self.dropFirst(8 + length))
    }
}

final class MalformedSafetensorsTests: XCTestCase {
    func testValidBaseFileOpens() throws {
        let url = try writeTemporary(MalformedSafetensors.file(MalformedSafetensors.validHeader), name: "valid.safetensors")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let file = try SafetensorsFile(url: url)
        XCTAssertEqual(file.tensorNames, ["a", "b"])
        XCTAssertEqual(try file.tensor("b"), Tensor(shape: [1, 2], data: [0, 0]))
    }

    func testEveryMalformedFileIsRejectedWithItsProblemNamed() throws {
        let files = MalformedSafetensors.files()
        XCTAssertGreaterThanOrEqual(files.count, 40)
        try assertAllRejected(files) { url in
            let file = try SafetensorsFile(url: url)
            for name in file.tensorNames { _ = try file.tensor(name) }
        }
    }

    func testBadShardIndexesAreRejected() throws {
        let shard = MalformedSafetensors.file(MalformedSafetensors.validHeader)
        let cases: [(index: String, problem: String)] = [
            ("not json", "not a JSON object"),
            (#"{"metadata": {}}"#, "no weight_map"),
            (#"{"weight_map": {"a": "../escape.safetensors"}}"#, "not a file name in the same folder"),
            (#"{"weight_map": {"a": "missing.safetensors", "b": "missing.safetensors"}}"#, "missing.safetensors, which does not exist"),
            (#"{"weight_map": {"a": "one.safetensors", "c": "one.safetensors"}}"#, "puts tensor c in one.safetensors, which does not hold it"),
            (#"{"weight_map": {"a": "one.safetensors", "b": "two.safetensors"}}"#, "is also in"),
        ]
        for (index, problem) in cases {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qkprobe-index-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            try shard.write(to: folder.appendingPathComponent("one.safetensors"))
            try shard.write(to: folder.appendingPathComponent("two.safetensors"))
            try Data(index.utf8).write(to: folder.appendingPathComponent(SafetensorsCheckpoint.indexFileName))
            XCTAssertThrowsError(try SafetensorsCheckpoint(url: folder), index) { error in
                XCTAssertTrue((error as? ModelFormatError)?.problem.contains(problem) == true, "\(error) does not mention \"\(problem)\"")
            }
        }
    }
}
