import XCTest
@testable import ModelFormats

final class DefaultModelTests: XCTestCase {
    func testCacheDirectoryHonoursEnvironment() {
        XCTAssertEqual(DefaultModel.cacheDirectory(environment: ["QKPROBE_CACHE": "/x/y", "XDG_CACHE_HOME": "/z"]).path, "/x/y")
        XCTAssertEqual(DefaultModel.cacheDirectory(environment: ["XDG_CACHE_HOME": "/z", "HOME": "/h"]).path, "/z/qkprobe")
        XCTAssertEqual(DefaultModel.cacheDirectory(environment: ["HOME": "/h"]).path, "/h/.cache/qkprobe")
        XCTAssertEqual(DefaultModel.path(environment: ["HOME": "/h"]).path,
                       "/h/.cache/qkprobe/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    func testMissingDefaultModelSaysHowToFetchIt() {
        XCTAssertThrowsError(try DefaultModel.resolve(environment: ["QKPROBE_CACHE": "/nonexistent-qkprobe"])) { error in
            XCTAssertTrue("\(error)".contains("scripts/fetch-model.sh"), "\(error)")
        }
    }
}

final class FileDigestTests: XCTestCase {
    func testSHA256OfKnownContent() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qkprobe-digest-\(UUID().uuidString)")
        try Data("abc".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertEqual(try FileDigest.sha256(of: url), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
