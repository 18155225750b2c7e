import CHDF5
import Foundation
import XCTest
@testable import RunStore

final class RunFileTests: XCTestCase {
    func testWrittenRunReadsBackExactlyAndPassesThePythonCheck() throws {
        let directory = try makeTemporaryDirectory(self)
        let url = directory.appendingPathComponent("run.h5")
        let spec = makeSpec()
        let firstRows = [4, 0, 5]

        let run = try RunFile.open(at: url, spec: spec, ifExists: .refuse)
        XCTAssertEqual(run.pendingRows, Array(0..<7))
        XCTAssertEqual(run.stepsValues, [1, 2])
        XCTAssertEqual(run.distractorsValues, [0, 4])
        for row in firstRows { try SyntheticRow(row: row, shape: run.shape).write(to: run, row: row) }
        try run.close()

        do {  // the reader must be gone before the file is opened for writing again
            let partial = try RunReader(url: url)
            XCTAssertEqual(partial.header, spec.header)
            XCTAssertEqual(partial.options, spec.options)
            XCTAssertEqual(partial.samples, spec.samples)
            XCTAssertEqual(partial.complete, (0..<7).map { firstRows.contains($0) })
            XCTAssertNil(partial.headTables)
            XCTAssertTrue(partial.scores(sample: 1).allSatisfy(\.isNaN), "unwritten rows must read as NaN")
        }

        let resumed = try RunFile.open(at: url, spec: spec, ifExists: .resume)
        XCTAssertEqual(resumed.pendingRows, [1, 2, 3, 6])
        for row in resumed.pendingRows { try SyntheticRow(row: row, shape: resumed.shape).write(to: resumed, row: row) }
        let tables = syntheticHeadTables(for: resumed)
        try resumed.writeHeadTables(tables)
        try resumed.close()

        let reader = try RunReader(url: url)
        XCTAssertEqual(reader.complete, Array(repeating: true, count: 7))
        XCTAssertEqual(reader.header.created, spec.header.created)
        for row in 0..<7 {
            let expected = SyntheticRow(row: row, shape: reader.shape)
            XCTAssertEqual(bits(reader.scores(sample: row)), bits(expected.qk), "row \(row)")
            XCTAssertEqual(bits(reader.modelLogits[row * 2..<row * 2 + 2]), bits(expected.modelLogits))
            XCTAssertEqual(bits(try reader.queries(sample: row)), bits(expected.queries))
            XCTAssertEqual(bits(try reader.keys(sample: row)), bits(expected.keys))
        }
        let stored = try XCTUnwrap(reader.headTables)
        XCTAssertEqual(bits(stored.accuracy), bits(tables.accuracy))
        XCTAssertEqual(bits(stored.accuracyBySteps), bits(tables.accuracyBySteps))
        XCTAssertEqual(bits(stored.accuracyByDistractors), bits(tables.accuracyByDistractors))
        XCTAssertEqual(stored.baselineAccuracy, tables.baselineAccuracy)
        XCTAssertEqual(bits(stored.baselineAccuracyBySteps), bits(tables.baselineAccuracyBySteps))
        XCTAssertEqual(bits(stored.baselineAccuracyByDistractors), bits(tables.baselineAccuracyByDistractors))

        let check = try checkRunFiles([url])
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertTrue(check.output.contains("7 samples, 7 complete"), check.output)
        XCTAssertTrue(check.output.contains("scores recomputed from activations"), check.output)
    }

    func testCheckScriptReportsWrongScoresAndLayoutDamage() throws {
        let directory = try makeTemporaryDirectory(self)
        let good = directory.appendingPathComponent("good.h5")
        let run = try RunFile.open(at: good, spec: makeSpec(), ifExists: .refuse)
        for row in 0..<7 {
            var result = SyntheticRow(row: row, shape: run.shape)
            if row == 3 { result.qk[5] += 0.01 }  // not what q . k gives
            try result.write(to: run, row: row)
        }
        try run.close()
        let damage = [
            "anchor-dtype": "a = f['/samples/anchor'][()]; del f['/samples/anchor']; f['/samples/anchor'] = a.astype('i8')",
            "extra": "f['/scores/extra'] = [1.0]",
            "no-sha": "del f.attrs['model_sha256']",
            "qk-shape": "del f['/scores/qk']; f['/scores/qk'] = np.zeros((7, 2, 3, 5), 'f4')",
        ]
        let script = "import h5py, numpy as np, shutil, sys\n" + damage.keys.sorted().map { name in
            "shutil.copy(sys.argv[1], sys.argv[2] + '/\(name).h5')\n"
                + "with h5py.File(sys.argv[2] + '/\(name).h5', 'r+') as f: \(damage[name]!)"
        }.joined(separator: "\n")
        let made = try runPython(["-c", script, good.path, directory.path])
        XCTAssertEqual(made.status, 0, made.output)
        let file = { (name: String) in directory.appendingPathComponent("\(name).h5") }
        let expected = [
            "anchor-dtype": "/samples/anchor has dtype int64, expected int32",
            "extra": "unexpected dataset /scores/extra",
            "no-sha": "root attribute model_sha256 is missing or not a string",
            "qk-shape": "/scores/qk has shape (7, 2, 3, 5), expected (7, 2, 3, 4)",
        ]
        let check = try checkRunFiles([good] + expected.keys.sorted().map(file))
        XCTAssertEqual(check.status, 1, check.output)
        XCTAssertTrue(check.output.contains("\(good.path): /scores/qk row 3 (option, layer, head) (0, 1, 1) is "),
                      check.output)
        for (name, problem) in expected {
            XCTAssertTrue(check.output.contains("\(file(name).path): \(problem)"), check.output)
        }
        XCTAssertThrowsError(try RunReader(url: file("qk-shape"))) { error in
            XCTAssertEqual("\(error)", "\(file("qk-shape").path): /scores/qk has shape [7, 2, 3, 5], expected [7, 2, 3, 4]")
        }
        XCTAssertThrowsError(try RunReader(url: file("no-sha"))) { error in
            XCTAssertEqual("\(error)", "\(file("no-sha").path): / has no attribute model_sha256")
        }
    }

    /// No activations, and no steps or distractors known: the by-steps/by-distractors tables
    /// have zero rows, which h5py and the reader must take in their stride.
    func testRunWithoutActivationsOrKnownStepsHasEmptyBreakdowns() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("run.h5")
        var spec = makeSpec(samples: 3, saveActivations: false)
        for index in spec.samples.indices { (spec.samples[index].steps, spec.samples[index].distractors) = (-1, -1) }
        let run = try RunFile.open(at: url, spec: spec, ifExists: .refuse)
        XCTAssertEqual(run.stepsValues, [])
        XCTAssertThrowsError(try run.write(row: 1, qk: [], modelLogits: [], queries: [], keys: []))
        for row in 0..<3 { try SyntheticRow(row: row, shape: run.shape).write(to: run, row: row) }
        try run.writeHeadTables(syntheticHeadTables(for: run))
        try run.close()

        let reader = try RunReader(url: url)
        XCTAssertFalse(reader.hasActivations)
        XCTAssertThrowsError(try reader.queries(sample: 2))
        XCTAssertFalse(try H5File.open(url.path, writable: false).exists("/activations"))
        XCTAssertEqual(reader.headTables?.accuracyBySteps, [])
        XCTAssertEqual(reader.headTables?.baselineAccuracyByDistractors, [])
        XCTAssertEqual(bits(reader.qk), bits((0..<3).flatMap { SyntheticRow(row: $0, shape: reader.shape).qk }))
        let check = try checkRunFiles([url])
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertTrue(check.output.contains("3 samples, 3 complete, 2 options, heads written, no activations"),
                      check.output)
    }

    func testExistingOutputIsNeverReplacedUnlessAsked() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("run.h5")
        let spec = makeSpec()
        let run = try RunFile.open(at: url, spec: spec, ifExists: .refuse)
        try SyntheticRow(row: 0, shape: run.shape).write(to: run, row: 0)
        try run.close()

        XCTAssertThrowsError(try RunFile.open(at: url, spec: spec, ifExists: .refuse)) { error in
            XCTAssertEqual("\(error)", "\(url.path): already exists (pass --resume to continue it or --force to replace it)")
        }
        XCTAssertEqual(try RunReader(url: url).complete.filter { $0 }.count, 1, "the refused open must not touch the file")

        let replaced = try RunFile.open(at: url, spec: spec, ifExists: .overwrite)
        XCTAssertEqual(replaced.pendingRows.count, spec.samples.count)
        try replaced.close()
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path + ".creating"))
    }

    /// The tokenizer's BOS (`add_bos_token`) is recorded: the token, or none.
    func testTheBOSTokenIsRecorded() throws {
        let directory = try makeTemporaryDirectory(self)
        for bos in [nil, 2] as [Int?] {
            var spec = makeSpec(samples: 2)
            spec.header.bosTokenID = bos
            let url = directory.appendingPathComponent("bos-\(bos ?? -1).h5")
            try RunFile.open(at: url, spec: spec, ifExists: .refuse).close()
            XCTAssertEqual(try RunReader(url: url).header.bosTokenID, bos)
            let file = try H5File.open(url.path, writable: false)
            XCTAssertEqual(try file.attribute("add_bos_token", as: Int64.self), bos == nil ? 0 : 1)
            XCTAssertEqual(try file.attribute("bos_token_id", as: Int64.self), Int64(bos ?? -1))
        }
    }

    func testResumeRefusesARunMadeDifferently() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("run.h5")
        let spec = makeSpec()
        try RunFile.open(at: url, spec: spec, ifExists: .refuse).close()

        var renamed = spec
        renamed.header.modelPath = "/elsewhere/tiny.gguf"
        renamed.header.created = "2030-01-01T00:00:00Z"
        renamed.header.datasetName = "renamed"
        XCTAssertNoThrow(try RunFile.open(at: url, spec: renamed, ifExists: .resume).close(),
                         "paths, names and the creation time do not define a run")

        let changes: [(String, (inout RunSpec) -> Void)] = [
            ("model_sha256 is \(spec.header.modelSHA256) in the file but 00 now", { $0.header.modelSHA256 = "00" }),
            ("dataset_sha256", { $0.header.datasetSHA256 = "11" }),
            ("template", { $0.header.template = "Q: {question}\nAnswer:" }),
            ("qk_rope is pre in the file but post now", { $0.header.qkRope = .post }),
            ("qk_scale", { $0.header.qkScale = 0.5 }),
            ("threads is 2 in the file but 8 now", { $0.header.threads = 8 }),
            ("tool_version", { $0.header.toolVersion = "9.9" }),
            ("bos_token_id is none in the file but 2 now", { $0.header.bosTokenID = 2 }),
            ("options are", { $0.options = [" yes", " no"] }),
            ("the file has saved activations", { $0.saveActivations = false }),
            ("the file has 7 samples, this run 6", { $0.samples.removeLast() }),
            ("sample 3 (sample-3) has a different token_ids", { $0.samples[3].tokenIDs[0] += 1 }),
            ("sample 5 (sample-5) has a different label", { $0.samples[5].label = 0 }),
        ]
        for (expected, change) in changes {
            var changed = spec
            change(&changed)
            XCTAssertThrowsError(try RunFile.open(at: url, spec: changed, ifExists: .resume)) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix("\(url.path): cannot resume: "), message)
                XCTAssertTrue(message.contains(expected), "\(message) should mention \(expected)")
                XCTAssertFalse(message.contains("\n"))
            }
        }
    }

    func testBadWritesAreRefusedWithoutTouchingTheFile() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("run.h5")
        let run = try RunFile.open(at: url, spec: makeSpec(), ifExists: .refuse)
        let row = SyntheticRow(row: 0, shape: run.shape)
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertEqual(message { try row.write(to: run, row: 7) }, "\(url.path): row 7 is outside the run's 7 samples")
        XCTAssertEqual(message { try run.write(row: 0, qk: row.qk + [1], modelLogits: row.modelLogits,
                                               queries: row.queries, keys: row.keys) },
                       "\(url.path): 25 values for one row of /scores/qk, expected 24")
        XCTAssertEqual(message { try run.write(row: 0, qk: row.qk, modelLogits: row.modelLogits) },
                       "\(url.path): this run saves activations: row 0 needs queries and keys")
        XCTAssertTrue(message { try run.writeHeadTables(syntheticHeadTables(for: run)) }
            .hasSuffix("cannot write head tables: 7 rows are not written yet"))
        try row.write(to: run, row: 0)
        XCTAssertEqual(message { try row.write(to: run, row: 0) }, "\(url.path): row 0 is already written")
        try run.close()
        XCTAssertEqual(message { try row.write(to: run, row: 1) }, "\(url.path): the run file is closed")
        XCTAssertEqual(try RunReader(url: url).complete, [true] + Array(repeating: false, count: 6))
    }

    func testInvalidSpecsAreRefusedBeforeAnythingIsWritten() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("run.h5")
        let changes: [(String, (inout RunSpec) -> Void)] = [
            ("sample 2 (sample-2): label 2 is not an option index or -1", { $0.samples[2].label = 2 }),
            ("sample 0 (sample-0): anchor 3 is outside its 3 tokens", { $0.samples[0].anchor = 3 }),
            ("sample 4 (sample-4): steps -2 is outside -1...32767", { $0.samples[4].steps = -2 }),
            ("n_heads 4 is not a multiple of n_kv_heads 3", { $0.header.nKVHeads = 3 }),
            ("no samples", { $0.samples = [] }),
            ("0 options (1 to 127 are supported)", { $0.options = [] }),
            ("qk_scale is nan", { $0.header.qkScale = .nan }),
        ]
        for (expected, change) in changes {
            var spec = makeSpec()
            change(&spec)
            XCTAssertThrowsError(try RunFile.open(at: url, spec: spec, ifExists: .refuse)) { error in
                XCTAssertEqual("\(error)", "\(url.path): cannot create the run: \(expected)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
            XCTAssertFalse(FileManager.default.fileExists(atPath: url.path + ".creating"))
        }
    }

    func testUnwritableOutputGivesOneLineNamingTheFile() throws {
        let directory = try makeTemporaryDirectory(self)
        let inMissingDirectory = directory.appendingPathComponent("missing/run.h5")
        XCTAssertThrowsError(try RunFile.open(at: inMissingDirectory, spec: makeSpec(), ifExists: .refuse)) { error in
            XCTAssertEqual("\(error)", "\(inMissingDirectory.path): cannot create the file: No such file or directory")
        }
        let aFile = directory.appendingPathComponent("plain")
        try Data("x".utf8).write(to: aFile)
        let underAFile = aFile.appendingPathComponent("run.h5")
        XCTAssertThrowsError(try RunFile.open(at: underAFile, spec: makeSpec(), ifExists: .resume)) { error in
            XCTAssertEqual("\(error)", "\(underAFile.path): cannot create the file: Not a directory")
        }
    }

    func testAFileOpenInAnotherProcessIsReportedAsLocked() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("run.h5")
        try RunFile.open(at: url, spec: makeSpec(), ifExists: .refuse).close()
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", "import h5py, sys, time; f = h5py.File(sys.argv[1], 'r'); "
                            + "print('open', flush=True); time.sleep(60)", url.path]
        let pipe = Pipe()
        holder.standardOutput = pipe
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        XCTAssertEqual(String(decoding: pipe.fileHandleForReading.readData(ofLength: 4), as: UTF8.self), "open")
        XCTAssertThrowsError(try RunFile.open(at: url, spec: makeSpec(), ifExists: .resume)) { error in
            XCTAssertEqual("\(error)", "\(url.path): cannot open the file for writing: "
                           + "the file is locked by another process that has it open")
        }
    }

    /// A run that cannot fit is refused before HDF5 writes anything; nothing is left behind.
    func testRunsThatCannotFitAreRefusedAtCreation() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("run.h5")
        // 12.9 TB of activations: more than any disk this runs on.
        let huge = makeSpec(samples: 1000, layers: 1024, heads: 1024, kvHeads: 1024, headDim: 1024)
        XCTAssertThrowsError(try RunFile.open(at: url, spec: huge, ifExists: .refuse)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("\(url.path): cannot create the run: it needs at least 12.9 TB"), message)
            XCTAssertTrue(message.hasSuffix(" are free on that disk"), message)
        }

        var saved = rlimit()
        XCTAssertEqual(getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &saved), 0)
        var limited = saved
        limited.rlim_cur = 32 * 1024
        XCTAssertEqual(setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limited), 0)
        // The preallocated queries alone take 7 * 2 * 3 * 4 * 80 * 4 = 54 kB.
        let result = Result { try RunFile.open(at: url, spec: makeSpec(headDim: 80), ifExists: .refuse) }
        XCTAssertEqual(setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &saved), 0)
        XCTAssertThrowsError(try result.get()) { error in
            XCTAssertEqual("\(error)", "\(url.path): cannot create the run: it needs at least 68.2 kB "
                           + "but the file size limit is 32.8 kB")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path + ".creating"))
    }

    /// The claim crash safety rests on: after creation, writing rows and head tables changes
    /// no byte outside the preallocated data of the datasets written, and the file never grows.
    func testWritesOnlyChangeBytesInsidePreallocatedData() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("run.h5")
        let spec = makeSpec(samples: 40)
        try RunFile.open(at: url, spec: spec, ifExists: .refuse).close()
        let created = try Data(contentsOf: url)

        var regions: [String: Range<Int>] = [:]
        do {
            let file = try H5File.open(url.path, writable: false)
            for path in [RunLayout.complete, RunLayout.qk, RunLayout.modelLogit, RunLayout.queries, RunLayout.keys,
                         RunLayout.accuracy, RunLayout.accuracyBySteps, RunLayout.accuracyByDistractors,
                         RunLayout.baselineAccuracy, RunLayout.baselineAccuracyBySteps,
                         RunLayout.baselineAccuracyByDistractors, RunLayout.headsComplete] {
                let dataset = try file.openDataset(path)
                let offset = H5Dget_offset(dataset.id)
                XCTAssertNotEqual(offset, haddr_t.max /* HADDR_UNDEF */, "\(path) must be allocated at creation")
                regions[path] = Int(offset)..<Int(offset) + Int(H5Dget_storage_size(dataset.id))
            }
        }

        // HDF5 sets a write-access flag in the superblock while the file is open for writing and
        // clears it on close. Readers of this (version 0) superblock ignore it: h5py and libhdf5
        // open a file a killed writer left with the flag set (the crash test checks both).
        let superblockFlags = 20..<24
        XCTAssertEqual(created[superblockFlags.lowerBound], 0)
        func changedBytesOutsideRegions(_ data: Data) -> [Int] {
            (0..<data.count).filter { index in
                data[index] != created[index] && !regions.values.contains { $0.contains(index) }
            }
        }
        let run = try RunFile.open(at: url, spec: spec, ifExists: .resume)
        for row in stride(from: 0, to: 40, by: 3) { try SyntheticRow(row: row, shape: run.shape).write(to: run, row: row) }
        let whileOpen = try Data(contentsOf: url)  // what a kill at this moment would leave
        XCTAssertEqual(whileOpen.count, created.count)
        XCTAssertEqual(changedBytesOutsideRegions(whileOpen), Array(superblockFlags.prefix(1)))
        XCTAssertEqual(whileOpen[superblockFlags.lowerBound], 1)

        for row in run.pendingRows { try SyntheticRow(row: row, shape: run.shape).write(to: run, row: row) }
        try run.writeHeadTables(syntheticHeadTables(for: run))
        try run.close()
        let finished = try Data(contentsOf: url)
        XCTAssertEqual(finished.count, created.count)
        XCTAssertEqual(changedBytesOutsideRegions(finished), [])
        for (path, region) in regions {
            XCTAssertNotEqual(finished[region], created[region], "\(path) should have been written")
        }
    }
}
