import Foundation
import XCTest
@testable import ModelFormats

/// Reads the default model and compares with `reference/gguf_default_model_fixture.py` (gguf-py).
final class GGUFDefaultModelTests: XCTestCase {
    private static let shared = Result { try GGUFFile(url: DefaultModel.resolve()) }

    private func model() throws -> GGUFFile {
        do { return try Self.shared.get() } catch {
            XCTFail("cannot open the default model: \(error)")
            throw error
        }
    }

    func testHeaderAndTensorInfosMatchGGUFPy() throws {
        let gguf = try model()
        let header = try XCTUnwrap(loadJSONFixture("default_model_tensors.json")["header"] as? [String: Any])
        XCTAssertEqual(Int(gguf.version), header["version"] as? Int)
        XCTAssertEqual(gguf.tensorInfos.count, header["tensor_count"] as? Int)
        XCTAssertEqual(gguf.metadataKeys.count, header["kv_count"] as? Int)
        XCTAssertEqual(gguf.alignment, header["alignment"] as? Int)
        XCTAssertEqual(gguf.dataOffset, header["data_offset"] as? Int)

        let expectedInfos = try XCTUnwrap(header["tensor_infos"] as? [[String: Any]])
        XCTAssertEqual(gguf.tensorInfos.count, expectedInfos.count)
        for (info, expected) in zip(gguf.tensorInfos, expectedInfos) {
            XCTAssertEqual(info.name, expected["name"] as? String)
            XCTAssertEqual(info.type.description, expected["type"] as? String, info.name)
            XCTAssertEqual(info.shape, expected["shape"] as? [Int], info.name)
            XCTAssertEqual(info.offset, expected["offset"] as? Int, info.name)
        }
    }

    func testMetadataMatchesGGUFPy() throws {
        let gguf = try model()
        let header = try XCTUnwrap(loadJSONFixture("default_model_tensors.json")["header"] as? [String: Any])
        let metadata = try XCTUnwrap(header["metadata"] as? [String: Any])
        for (key, expected) in metadata {
            let value = try XCTUnwrap(gguf.value(key), "missing \(key)")
            switch value {
            case .string(let s): XCTAssertEqual(s, expected as? String, key)
            case .bool(let b): XCTAssertEqual(b, (expected as? NSNumber)?.boolValue, key)
            case .float32(let f): XCTAssertEqual(f, (expected as? NSNumber).map { Float($0.doubleValue) }, key)
            case .array: XCTAssertEqual(gguf.stringArray(key), expected as? [String], key)
            default: XCTAssertEqual(value.intValue, expected as? Int, key)
            }
        }
        XCTAssertEqual(gguf.arrayCount("tokenizer.ggml.tokens"), header["token_count"] as? Int)
        XCTAssertEqual(gguf.stringArray("tokenizer.ggml.tokens").map { Array($0.prefix(8)) }, header["first_tokens"] as? [String])
        XCTAssertEqual(gguf.intArray("tokenizer.ggml.token_type").map { Array($0.prefix(8)) }, header["first_token_types"] as? [Int])
        XCTAssertEqual(gguf.arrayCount("tokenizer.ggml.merges"), header["merge_count"] as? Int)
        XCTAssertEqual(gguf.stringArray("tokenizer.ggml.merges").map { Array($0.prefix(8)) }, header["first_merges"] as? [String])
        // Typed accessors refuse the wrong kind instead of converting.
        XCTAssertNil(gguf.string("llama.block_count"))
        XCTAssertNil(gguf.stringArray("tokenizer.ggml.token_type"))
    }

    /// Every value must equal gguf-py's dequantisation bit for bit (checked through a SHA-256 of all
    /// values, and directly for the first 256); the float64 sums differ only by summation order.
    func testDequantisationMatchesGGUFPy() throws {
        let gguf = try model()
        let tensors = try XCTUnwrap(loadJSONFixture("default_model_tensors.json")["tensors"] as? [[String: Any]])
        XCTAssertFalse(tensors.isEmpty)
        for expected in tensors {
            let name = try XCTUnwrap(expected["name"] as? String)
            let tensor = try gguf.tensor(name)
            XCTAssertEqual(gguf.tensorInfo(name)?.type.description, expected["type"] as? String, name)
            XCTAssertEqual(tensor.shape, expected["shape"] as? [Int], name)
            let first = try XCTUnwrap(expected["first"] as? [Double]).map(Float.init)
            XCTAssertEqual(Array(tensor.data.prefix(first.count)), first, name)
            XCTAssertEqual(sha256(of: tensor.data), expected["sha256"] as? String, name)
            let sum = tensor.data.reduce(0.0) { $0 + Double($1) }
            let squares = tensor.data.reduce(0.0) { $0 + Double($1) * Double($1) }
            let expectedSum = try XCTUnwrap(expected["sum"] as? Double)
            let expectedSquares = try XCTUnwrap(expected["sum_of_squares"] as? Double)
            XCTAssertEqual(sum, expectedSum, accuracy: 1e-9 * max(1, abs(expectedSum)), name)
            XCTAssertEqual(squares, expectedSquares, accuracy: 1e-9 * expectedSquares, name)
        }
    }

    func testRawBytesAreTheStoredBlocks() throws {
        let gguf = try model()
        let info = try XCTUnwrap(gguf.tensorInfo("blk.0.attn_q.weight"))
        let raw = try gguf.rawBytes(of: info.name)
        XCTAssertEqual(raw.count, info.byteCount)
        XCTAssertEqual(info.byteCount, 576 * 576 / 32 * 20) // Q4_1: 20 bytes per 32 values
        XCTAssertThrowsError(try gguf.tensor("no.such.tensor")) { error in
            XCTAssertTrue("\(error)".contains("no tensor named no.such.tensor"), "\(error)")
        }
    }
}
