import Foundation
import GGUFTestSupport
import XCTest
@testable import ModelFormats

/// Compares the readers with torch on the files of `reference/make_safetensors_fixtures.py`.
final class SafetensorsTests: XCTestCase {
    private struct Expected {
        let manifest: [String: Any]
        let values: [UInt32]

        init() throws {
            manifest = try loadJSONFixture("safetensors/manifest.json")
            values = try Data(contentsOf: fixtureURL("safetensors/\(XCTUnwrap(manifest["values_file"] as? String))"))
                .withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)).map(UInt32.init(littleEndian:)) }
        }

        func tensors(_ key: String) throws -> [String: [String: Any]] {
            let entry = try XCTUnwrap(manifest[key] as? [String: Any])
            return try XCTUnwrap(entry["tensors"] as? [String: [String: Any]])
        }
    }

    /// Float tensors must equal torch's conversion to float32 bit for bit (NaN payloads included).
    private func assertMatches(_ source: some WeightSource, _ expected: [String: [String: Any]], values: [UInt32]) throws {
        XCTAssertEqual(Set(source.tensorNames), Set(expected.keys))
        for (name, entry) in expected {
            XCTAssertEqual(source.shape(of: name), entry["shape"] as? [Int], name)
            guard let start = entry["values_at"] as? Int else {
                XCTAssertThrowsError(try source.tensor(name), name) { error in
                    XCTAssertTrue("\(error)".contains("does not convert to float32"), "\(error)")
                }
                continue
            }
            let tensor = try source.tensor(name)
            XCTAssertEqual(tensor.shape, entry["shape"] as? [Int], name)
            XCTAssertEqual(tensor.data.map(\.bitPattern), Array(values[start ..< start + tensor.count]), name)
            XCTAssertEqual(sha256(of: tensor.data), entry["sha256"] as? String, name)
        }
    }

    func testSingleFileOfEveryFloatDType() throws {
        let expected = try Expected()
        let file = try SafetensorsFile(url: fixtureURL("safetensors/single.safetensors"))
        let tensors = try expected.tensors("single.safetensors")
        for (name, entry) in tensors {
            XCTAssertEqual(file.tensorInfo(name)?.dtype.rawValue, entry["dtype"] as? String, name)
        }
        XCTAssertEqual(Set(tensors.values.compactMap { $0["dtype"] as? String }), ["F32", "F16", "BF16", "I64"])
        let metadata = try XCTUnwrap((expected.manifest["single.safetensors"] as? [String: Any])?["metadata"] as? [String: String])
        XCTAssertEqual(file.metadata, metadata)
        try assertMatches(file, tensors, values: expected.values)
        XCTAssertEqual(try file.tensor("f32.scalar").shape, [])
        XCTAssertEqual(try file.tensor("f32.empty").count, 0)
    }

    func testShardedCheckpointThroughItsIndex() throws {
        let expected = try Expected()
        let tensors = try expected.tensors("tiny-llama")
        let folder = try fixtureURL("safetensors/tiny-llama")
        for url in [folder, folder.appendingPathComponent(SafetensorsCheckpoint.indexFileName)] {
            let checkpoint = try SafetensorsCheckpoint(url: url)
            XCTAssertEqual(checkpoint.files.count, 2)
            try assertMatches(checkpoint, tensors, values: expected.values)
            for (name, entry) in tensors {
                let shard = try XCTUnwrap(entry["shard"] as? String)
                XCTAssertTrue(checkpoint.files.contains { $0.path.hasSuffix(shard) && $0.tensorInfo(name) != nil }, name)
            }
        }
    }

    func testFolderWithoutIndexOpensEveryShard() throws {
        let source = try fixtureURL("safetensors/tiny-llama")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qkprobe-noindex-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".safetensors") {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let expected = try Expected()
        try assertMatches(SafetensorsCheckpoint(url: folder), expected.tensors("tiny-llama"), values: expected.values)
    }
}

final class ModelLocationTests: XCTestCase {
    func testGGUFFileIsRecognised() throws {
        let location = try ModelLocation(path: defaultModelURL().path)
        XCTAssertEqual(location, .gguf(try defaultModelURL().standardizedFileURL))
    }

    func testModelFolderOpensFromTheFolderOrAFileInIt() throws {
        let folder = try fixtureURL("safetensors/tiny-llama").standardizedFileURL
        for path in [folder.path, folder.appendingPathComponent("config.json").path,
                     folder.appendingPathComponent("model-00001-of-00002.safetensors").path] {
            XCTAssertEqual(try ModelLocation(path: path), .huggingFaceFolder(folder), path)
        }
        XCTAssertEqual(try ModelLocation.huggingFaceFolder(folder).files().map(\.lastPathComponent),
                       ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                        "model.safetensors.index.json", "tokenizer.json"])
    }

    /// The folder digest is defined so that `sha256sum` reproduces it: check it against that recipe.
    func testFolderDigestIsTheDigestOfSha256sumOutput() throws {
        let location = ModelLocation.huggingFaceFolder(try fixtureURL("safetensors/tiny-llama"))
        let listing = try location.files().map { "\(try FileDigest.sha256(of: $0))  \($0.lastPathComponent)\n" }.joined()
        let url = try writeTemporary(Data(listing.utf8), name: "listing")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        XCTAssertEqual(try location.sha256(), try FileDigest.sha256(of: url))
        XCTAssertEqual(try ModelLocation.gguf(defaultModelURL()).sha256(), DefaultModel.sha256)
    }

    func testWhatIsNotAModelIsNamed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qkprobe-loc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json"))
        try Data("hello".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        try Data("GGUX".utf8).write(to: folder.appendingPathComponent("broken.gguf"))

        let cases: [(String, String)] = [
            (folder.appendingPathComponent("missing").path, "no such file or folder"),
            (folder.path, "missing *.safetensors, tokenizer.json; for a GGUF file give its path"),
            (folder.appendingPathComponent("notes.txt").path, "neither a GGUF file nor a Hugging Face model folder"),
            (folder.appendingPathComponent("broken.gguf").path, "not a GGUF file"),
        ]
        for (path, problem) in cases {
            XCTAssertThrowsError(try { if case .gguf(let url) = try ModelLocation(path: path) { _ = try GGUFFile(url: url) } }(), path) { error in
                XCTAssertTrue((error as? ModelFormatError)?.problem.contains(problem) == true, "\(error) does not mention \"\(problem)\"")
            }
        }
    }
}
