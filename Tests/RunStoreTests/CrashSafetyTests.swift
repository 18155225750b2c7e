import Foundation
import XCTest
@testable import RunStore

/// Runs that die mid-write. The writers are child processes: this test binary run again with a
/// filter that selects `testChildProcess`, told what to do through the environment.
final class CrashSafetyTests: XCTestCase {
    private static let jobVariable = "QKPROBE_RUNSTORE_CHILD_JOB"
    /// Many small rows, activations included, so that kills land at many different rows.
    private static let spec = makeSpec(samples: 5000, headDim: 8)

    /// The child processes' entry point; skipped in an ordinary test run.
    func testChildProcess() throws {
        guard let job = ProcessInfo.processInfo.environment[Self.jobVariable] else {
            throw XCTSkip("the entry point of the child processes the other tests in this class start")
        }
        let (task, path) = (job.prefix { $0 != " " }, String(job.drop { $0 != " " }.dropFirst()))
        switch task {
        case "write":
            try Self.writeRun(at: URL(fileURLWithPath: path))
        case "create-under-limit":
            // Room for the preallocated data but not the rest: HDF5 itself fails to write.
            var limit = rlimit()
            getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit)
            limit.rlim_cur = rlim_t(RunLayout.preallocatedBytes(Self.spec) + 1024)
            setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit)
            signal(SIGXFSZ, SIG_IGN)
            do {
                _ = try RunFile.open(at: URL(fileURLWithPath: path), spec: Self.spec, ifExists: .refuse)
                XCTFail("creating a run larger than the file size limit succeeded")
            } catch {
                try "\(error)".write(toFile: path + ".error", atomically: false, encoding: .utf8)
            }
        default:
            XCTFail("unknown child job \(job)")
        }
    }

    /// Resumes (or starts) the run and writes it to the end, head tables included.
    private static func writeRun(at url: URL) throws {
        let run = try RunFile.open(at: url, spec: spec, ifExists: .resume)
        for row in run.pendingRows { try SyntheticRow(row: row, shape: run.shape).write(to: run, row: row) }
        try run.writeHeadTables(syntheticHeadTables(for: run))
        try run.close()
    }

    private func startChild(_ job: String) throws -> Process {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        child.arguments = ["RunStoreTests.CrashSafetyTests/testChildProcess"]
        child.environment = ProcessInfo.processInfo.environment.merging([Self.jobVariable: job]) { $1 }
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        return child
    }

    /// Kill -9 at 20 random moments (creation, first rows, mid-run, head tables), resuming each
    /// time. After every kill the file opens in libhdf5 and h5py, every row flagged complete
    /// holds exactly what was written, and the finished run equals an uninterrupted one bit for bit.
    func testKilledRunsResumeToTheUninterruptedResult() throws {
        let directory = try makeTemporaryDirectory(self)
        let output = directory.appendingPathComponent("killed.h5")
        let shape = Self.spec.shape
        let rows = (0..<shape.samples).map { SyntheticRow(row: $0, shape: shape) }
        let written = [rows.flatMap(\.qk), rows.flatMap(\.modelLogits), rows.flatMap(\.queries), rows.flatMap(\.keys)]
        var random = SplitMix64(seed: 20_250_101)
        var snapshots: [URL] = []
        var completeAfterKills: [Int] = []

        for round in 0..<20 {
            let child = try startChild("write \(output.path)")
            // The first kills come about when the writer starts and creates the file (some tens of
            // ms in), the others a few hundred rows later, so that most land mid-run.
            let jitter = Double(random.nextSignedUnit() + 1) / 2
            Thread.sleep(forTimeInterval: round < 4 ? 0.03 + 0.01 * (Double(round) + jitter) : 0.025 + 0.1 * jitter)
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            if child.terminationReason == .exit {
                XCTAssertEqual(child.terminationStatus, 0, "round \(round): the writer failed on its own")
            }
            guard FileManager.default.fileExists(atPath: output.path) else {
                completeAfterKills.append(-1)  // killed before the file was in place
                continue
            }
            let reader = try RunReader(url: output)  // libhdf5 opens it and finds it consistent
            let file = try H5File.open(output.path, writable: false)
            let stored = [reader.qk, reader.modelLogits, try file.openDataset(RunLayout.queries).read(as: Float.self),
                          try file.openDataset(RunLayout.keys).read(as: Float.self)]
            let perRow = [shape.scoresPerSample, shape.options, shape.queriesPerSample, shape.keysPerSample]
            for row in 0..<shape.samples where reader.complete[row] {
                for (index, length) in perRow.enumerated()
                where !sameBits(stored[index], written[index], row * length..<(row + 1) * length) {
                    return XCTFail("round \(round): complete row \(row) does not hold what was written")
                }
            }
            completeAfterKills.append(reader.complete.filter { $0 }.count)
            let snapshot = directory.appendingPathComponent("after-kill-\(round).h5")
            try FileManager.default.copyItem(at: output, to: snapshot)
            snapshots.append(snapshot)
        }
        print("CrashSafetyTests: complete rows after each kill (-1: no file yet):", completeAfterKills)

        let finisher = try startChild("write \(output.path)")
        finisher.waitUntilExit()
        XCTAssertEqual(finisher.terminationStatus, 0, "the resumed run did not finish")
        let uninterrupted = directory.appendingPathComponent("uninterrupted.h5")
        try Self.writeRun(at: uninterrupted)

        let resumed = try RunReader(url: output), reference = try RunReader(url: uninterrupted)
        XCTAssertEqual(resumed.complete, Array(repeating: true, count: shape.samples))
        XCTAssertEqual(bits(resumed.qk), bits(reference.qk))
        XCTAssertEqual(bits(resumed.modelLogits), bits(reference.modelLogits))
        let (resumedTables, referenceTables) = (try XCTUnwrap(resumed.headTables), try XCTUnwrap(reference.headTables))
        XCTAssertEqual(bits(resumedTables.accuracy), bits(referenceTables.accuracy))
        XCTAssertEqual(bits(resumedTables.accuracyBySteps), bits(referenceTables.accuracyBySteps))
        for path in [RunLayout.queries, RunLayout.keys] {
            XCTAssertEqual(bits(try H5File.open(output.path, writable: false).openDataset(path).read(as: Float.self)),
                           bits(try H5File.open(uninterrupted.path, writable: false).openDataset(path).read(as: Float.self)))
        }

        let check = try checkRunFiles(snapshots + [output, uninterrupted])
        XCTAssertEqual(check.status, 0, check.output)
    }

    private func sameBits(_ a: [Float], _ b: [Float], _ range: Range<Int>) -> Bool {
        a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in
                let offset = range.lowerBound * MemoryLayout<Float>.size
                return memcmp(a.baseAddress! + offset, b.baseAddress! + offset, range.count * MemoryLayout<Float>.size) == 0
            }
        }
    }

    /// When HDF5 itself fails to write while creating (here: a file size limit just above the
    /// preallocated data), the error is one line naming the output, nothing is left behind, and
    /// the process exits normally (HDF5's exit-time cleanup would crash on the failed file).
    func testFailedCreationLeavesNothingAndExitsCleanly() throws {
        let output = try makeTemporaryDirectory(self).appendingPathComponent("limited.h5")
        let child = try startChild("create-under-limit \(output.path)")
        child.waitUntilExit()
        XCTAssertEqual(child.terminationReason, .exit)
        XCTAssertEqual(child.terminationStatus, 0)
        let message = try String(contentsOfFile: output.path + ".error", encoding: .utf8)
        XCTAssertTrue(message.hasPrefix("\(output.path): cannot "), message)
        XCTAssertTrue(message.hasSuffix(": File too large"), message)
        XCTAssertFalse(message.contains("\n"), message)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path + ".creating"))
    }
}
