import Foundation
import XCTest
@testable import RunStore

/// Runs that die mid-write. The writers are child processes: this test binary run again with a
/// filter that selects `testChildProcess`, told what to do through the environment.
final class CrashSafetyTests: XCTestCase {
    private static let jobVariable = "QKPROBE_RUNSTORE_CHILD_JOB"
    /// What a writer child prints on stderr when it begins, so that kills are timed from there.
    private static let startedSignal = "started\n"
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
            FileHandle.standardError.write(Data(Self.startedSignal.utf8))
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

    /// Resumes (or starts) the run and writes it to the end, head tables included. Returns the
    /// seconds it took to open (or create) the file and to write one row.
    @discardableResult
    private static func writeRun(at url: URL) throws -> (create: Double, reopen: Double, row: Double) {
        let clock = ContinuousClock()
        let seconds = { (duration: Duration) in Double(duration.components.attoseconds) * 1e-18
            + Double(duration.components.seconds) }
        let start = clock.now
        let run = try RunFile.open(at: url, spec: spec, ifExists: .resume)
        let opened = clock.now
        let pending = run.pendingRows
        for row in pending { try SyntheticRow(row: row, shape: run.shape).write(to: run, row: row) }
        let rowsWritten = clock.now
        try run.writeHeadTables(syntheticHeadTables(for: run))
        try run.close()
        let reopenStart = clock.now
        try RunFile.open(at: url, spec: spec, ifExists: .resume).close()
        return (seconds(opened - start), seconds(clock.now - reopenStart),
                seconds(rowsWritten - opened) / Double(max(pending.count, 1)))
    }

    /// Starts this test binary again as a child doing `job`; its stderr comes back through the pipe.
    private func startChild(_ job: String) throws -> (process: Process, stderr: FileHandle) {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        child.arguments = ["RunStoreTests.CrashSafetyTests/testChildProcess"]
        child.environment = ProcessInfo.processInfo.environment.merging([Self.jobVariable: job]) { $1 }
        child.standardOutput = FileHandle.nullDevice
        let stderr = Pipe()
        child.standardError = stderr
        try child.run()
        return (child, stderr.fileHandleForReading)
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
        // The uninterrupted run first: how long its phases take here and now sets the kill times.
        let uninterrupted = directory.appendingPathComponent("uninterrupted.h5")
        let phases = try Self.writeRun(at: uninterrupted)
        var random = SplitMix64(seed: 20_250_101)
        var snapshots: [URL] = []
        var completeAfterKills: [Int] = []

        for round in 0..<20 {
            let (child, stderr) = try startChild("write \(output.path)")
            XCTAssertEqual(String(decoding: stderr.readData(ofLength: Self.startedSignal.utf8.count), as: UTF8.self),
                           Self.startedSignal)
            // Counted from the writer's start: the first kills land while it creates the file,
            // most others after opening it and up to N/8 rows on, the last ones about when the
            // remaining rows are done (the head tables are written then).
            let jitter = Double(random.nextSignedUnit() + 1) / 2
            let remaining = Double(shape.samples - max(completeAfterKills.last ?? 0, 0))
            let opening = FileManager.default.fileExists(atPath: output.path) ? phases.reopen : phases.create
            Thread.sleep(forTimeInterval: round < 4 ? phases.create * (Double(round) + jitter) / 4
                : round < 17 ? opening + phases.row * Double(shape.samples) / 8 * jitter
                : opening + phases.row * remaining * (0.8 + 0.4 * jitter))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            if child.terminationReason == .exit {
                XCTAssertEqual(child.terminationStatus, 0, "round \(round): the writer failed on its own")
            }
            guard FileManager.default.fileExists(atPath: output.path) else {
                completeAfterKills.append(-1)  // killed while creating: nothing at the output path yet
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
        print("CrashSafetyTests: complete rows after each kill (-1: killed while creating):", completeAfterKills)

        let finisher = try startChild("write \(output.path)").process
        finisher.waitUntilExit()
        XCTAssertEqual(finisher.terminationStatus, 0, "the resumed run did not finish")

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
        let child = try startChild("create-under-limit \(output.path)").process
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
