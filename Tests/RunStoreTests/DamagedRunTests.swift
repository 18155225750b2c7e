import CHDF5
import Foundation
import XCTest
@testable import RunStore

/// Damage that HDF5 itself would not notice, or would crash on: the reader refuses each with one
/// line naming the file.
final class DamagedRunTests: XCTestCase {
    private func finishedRun(_ directory: URL, _ name: String = "run.h5") throws -> (URL, RunSpec) {
        let url = directory.appendingPathComponent(name)
        let spec = makeSpec()
        let run = try RunFile.open(at: url, spec: spec, ifExists: .refuse)
        for row in 0..<spec.samples.count { try SyntheticRow(row: row, shape: run.shape).write(to: run, row: row) }
        try run.writeHeadTables(syntheticHeadTables(for: run))
        try run.close()
        return (url, spec)
    }

    private func readerError(_ url: URL) -> String {
        do {
            _ = try RunReader(url: url)
            XCTFail("\(url.lastPathComponent) was read")
            return ""
        } catch {
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(url.path), message)
            XCTAssertFalse(message.contains("\n"), message)
            return message
        }
    }

    func testNonFiniteScoresInACompleteRowAreRefused() throws {
        let directory = try makeTemporaryDirectory(self)
        let url = directory.appendingPathComponent("nan.h5")
        let spec = makeSpec()
        let run = try RunFile.open(at: url, spec: spec, ifExists: .refuse)
        var row = SyntheticRow(row: 2, shape: run.shape)
        row.qk = row.qk.map { _ in Float.nan }  // an all-NaN row would count as a tie, i.e. for option 0
        try row.write(to: run, row: 2)
        try run.close()
        XCTAssertTrue(readerError(url).contains("sample 2 is marked complete but its /scores/qk holds NaN"))

        let logits = directory.appendingPathComponent("inf.h5")
        let second = try RunFile.open(at: logits, spec: spec, ifExists: .refuse)
        var infinite = SyntheticRow(row: 0, shape: second.shape)
        infinite.modelLogits[1] = .infinity
        try infinite.write(to: second, row: 0)
        try second.close()
        XCTAssertTrue(readerError(logits).contains("/scores/model_logit holds NaN or infinite"))
    }

    func testAScaleOtherThanOneOrTheRootOfTheHeadSizeIsRefused() throws {
        let directory = try makeTemporaryDirectory(self)
        for value in [Float.nan, 0, -1, 0.3] {
            let (url, _) = try finishedRun(directory, "scale-\(value).h5")
            do {
                let file = try H5File.open(url.path, writable: true)
                XCTAssertGreaterThanOrEqual(H5Adelete(file.id, "qk_scale"), 0)
                try file.setAttribute("qk_scale", value)
                try file.flush()
            }
            XCTAssertTrue(readerError(url).contains("attribute qk_scale is \(value)"), "\(value)")
        }
    }

    func testDamagedStringStorageIsRefusedBeforeHDF5ReadsIt() throws {
        let directory = try makeTemporaryDirectory(self)
        let (url, _) = try finishedRun(directory)
        let original = try [UInt8](Data(contentsOf: url))
        let signature: [UInt8] = [0x47, 0x43, 0x4F, 0x4C, 0x01, 0x00, 0x00, 0x00]
        let collection = try XCTUnwrap((0..<original.count - 8).first { Array(original[$0..<$0 + 8]) == signature },
                                       "no global heap in the run file")
        // The first object's size (after the 16-byte collection header, at +8 in the object header),
        // then the collection's own size, each made larger than the file.
        for (label, offset) in [("object size", collection + 16 + 8), ("collection size", collection + 8)] {
            var damaged = original
            withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { damaged.replaceSubrange(offset..<offset + 8, with: $0) }
            let copy = directory.appendingPathComponent("heap-\(label.replacingOccurrences(of: " ", with: "-")).h5")
            try Data(damaged).write(to: copy)
            XCTAssertTrue(readerError(copy).contains("damaged variable-length data"), label)
        }
    }

    func testOnlyRegularFilesAreOpened() throws {
        let directory = try makeTemporaryDirectory(self)
        let fifo = directory.appendingPathComponent("run.h5")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        XCTAssertTrue(readerError(fifo).contains("not a regular file"))
        XCTAssertTrue(readerError(directory).contains("not a regular file"))
    }
}
