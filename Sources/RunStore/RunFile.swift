// Writing a run: create (or resume) the file, then one row per sample as results arrive.
// See RunLayout.swift for the layout and why a kill at any moment cannot damage the file.
import CHDF5
import Foundation

/// What to do when the output file already exists.
public enum ExistingRunPolicy: Sendable {
    /// Stop with an error: existing output is never overwritten by accident.
    case refuse
    /// Continue the run in the file if it was made with the same spec (create it if missing).
    case resume
    /// Replace the file; the old one stays in place until the new one is complete.
    case overwrite
}

/// A run file open for writing. Not thread-safe: use it from one thread or task at a time.
public final class RunFile {
    public let url: URL
    /// The header as stored (on resume, `created` is the original run's).
    public let header: RunHeader
    public let shape: RunShape
    public let saveActivations: Bool
    /// Set when the file is one shard of a larger run.
    public let shard: RunShard?
    /// The rows of the by-steps / by-distractors head tables.
    public let stepsValues: [Int]
    public let distractorsValues: [Int]
    /// Which rows are written, as the file records it.
    public private(set) var complete: [Bool]
    private var open: (file: H5File, datasets: RunLayout.Opened)?

    /// Opens the run file at `url` for `spec`, creating it or, per `policy`, resuming it.
    public static func open(at url: URL, spec: RunSpec, ifExists policy: ExistingRunPolicy) throws -> RunFile {
        let path = url.path
        let exists = FileManager.default.fileExists(atPath: path)
        if exists && policy == .refuse {
            throw RunStoreError(path, "already exists (pass --resume to continue it or --force to replace it)")
        }
        if exists && policy == .resume {
            let run = try openExisting(at: url)
            try run.ensureResumable(spec)
            return run
        }
        try create(at: path, spec: spec)
        return try openExisting(at: url)
    }

    /// Opens an existing run file for writing, to resume it: its header says how it was made
    /// (a resume keeps the run's thread count). Check it with `ensureResumable` before writing.
    public static func openExisting(at url: URL) throws -> RunFile {
        let file = try H5File.open(url.path, writable: true)
        return try RunFile(url: url, file: file, datasets: try RunLayout.Opened(file))
    }

    private init(url: URL, file: H5File, datasets: RunLayout.Opened) throws {
        self.url = url
        header = datasets.header
        shape = datasets.shape
        saveActivations = datasets.hasActivations
        shard = datasets.shard
        stepsValues = try datasets[RunLayout.stepsValues].read(as: Int16.self).map(Int.init)
        distractorsValues = try datasets[RunLayout.distractorsValues].read(as: Int16.self).map(Int.init)
        complete = try datasets.readComplete()
        open = (file, datasets)
    }

    /// Builds the file under a temporary name and renames it into place, so that the output
    /// path never holds a half-built file.
    private static func create(at path: String, spec: RunSpec) throws {
        try RunLayout.validate(spec, path)
        try ensureRoom(for: RunLayout.preallocatedBytes(spec), at: path)
        try createAtomically(path, suffix: ".creating", what: "run file") { temporary in
            let file = try H5File.create(temporary)
            try RunLayout.build(file, spec)
            try file.flush()
        }
    }

    /// Refuses a run whose preallocated data alone would not fit on the disk or under the
    /// process's file size limit. This turns the usual full-disk case into a clear message
    /// before HDF5 writes anything (HDF5 cannot cleanly close a file it failed to write).
    static func ensureRoom(for bytes: Int, at path: String) throws {
        func refuse(_ room: String) -> RunStoreError {
            RunStoreError(path, "cannot create the run: it needs at least \(describe(bytes: bytes)) but \(room)")
        }
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(bytes) {
            throw refuse("the file size limit is \(describe(bytes: Int(limit.rlim_cur)))")
        }
        var disk = statvfs()
        let directory = (path as NSString).deletingLastPathComponent
        if statvfs(directory.isEmpty ? "." : directory, &disk) == 0 {
            let free = UInt64(disk.f_bavail).multipliedReportingOverflow(by: UInt64(disk.f_frsize))
            if !free.overflow, free.partialValue < UInt64(bytes) {
                throw refuse("only \(describe(bytes: Int(free.partialValue))) are free on that disk")
            }
        }
    }

    private static func describe(bytes: Int) -> String {
        for (unit, size) in [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)] where Double(bytes) >= size {
            return String(format: "%.1f %@", Double(bytes) / size, unit)
        }
        return "\(bytes) bytes"
    }

    /// Throws unless the file was made with `spec` (same model, dataset, samples, settings and
    /// thread count), so that the rows still to write complete the same run.
    public func ensureResumable(_ spec: RunSpec) throws {
        let (file, stored) = try openParts()
        let path = file.path
        func refuse(_ problem: String) -> RunStoreError {
            RunStoreError(path, "cannot resume: \(problem) (use --force to start over)")
        }
        for (storedField, wanted) in zip(stored.header.resumeFingerprint, spec.header.resumeFingerprint)
        where storedField.value != wanted.value {
            throw refuse("\(wanted.name) is \(storedField.value) in the file but \(wanted.value) now")
        }
        let options = try stored[RunLayout.options].readStrings()
        guard options == spec.options else { throw refuse("options are \(options) in the file but \(spec.options) now") }
        guard stored.hasActivations == spec.saveActivations else {
            throw refuse(stored.hasActivations ? "the file has saved activations, this run saves none"
                                               : "the file has no saved activations, this run saves them")
        }
        if stored.shard != spec.shard {
            func describe(_ shard: RunShard?) -> String {
                shard.map { "shard \($0.shard) of \($0.totalRows) rows" } ?? "a whole run"
            }
            throw refuse("the file is \(describe(stored.shard)), this run is \(describe(spec.shard))")
        }
        let samples = try stored.readSamples()
        guard samples.count == spec.samples.count else {
            throw refuse("the file has \(samples.count) samples, this run \(spec.samples.count)")
        }
        for (index, (old, new)) in zip(samples, spec.samples).enumerated() where old != new {
            let field = old.id != new.id ? "id" : old.label != new.label ? "label" : old.steps != new.steps ? "steps"
                : old.distractors != new.distractors ? "distractors" : old.tokenIDs != new.tokenIDs ? "token_ids"
                : old.anchor != new.anchor ? "anchor" : old.options != new.options ? "options"
                : old.optionIDs != new.optionIDs ? "option_ids" : old.shotIDs != new.shotIDs ? "shot_ids" : "key_positions"
            throw refuse("sample \(index) (\(new.id)) has a different \(field)")
        }
    }

    /// Rows not yet written, ascending. A resumed run with none pending may still lack its head
    /// tables (the kill came just before them): write them again, it is harmless.
    public var pendingRows: [Int] { complete.indices.filter { !complete[$0] } }

    /// Writes one sample's results and then marks the row complete; when this returns the row
    /// survives a kill of the process.
    /// - Parameters:
    ///   - qk: [option, layer, head] QK-scores.
    ///   - modelLogits: [option] logits of the option tokens at the last prompt position.
    ///   - queries: [option, layer, head, d_head], exactly when activations are saved.
    ///   - keys: [layer, kv_head, d_head] at the anchor, exactly when activations are saved.
    public func write(row: Int, qk: [Float], modelLogits: [Float], queries: [Float]? = nil, keys: [Float]? = nil) throws {
        let (file, datasets) = try openParts()
        guard complete.indices.contains(row) else {
            throw RunStoreError(file.path, "row \(row) is outside the run's \(complete.count) samples")
        }
        guard !complete[row] else { throw RunStoreError(file.path, "row \(row) is already written") }
        guard (queries != nil) == saveActivations, (keys != nil) == saveActivations else {
            throw RunStoreError(file.path, saveActivations ? "this run saves activations: row \(row) needs queries and keys"
                                                           : "this run saves no activations")
        }
        try datasets[RunLayout.qk].write(row: row, qk)
        try datasets[RunLayout.modelLogit].write(row: row, modelLogits)
        if let queries, let keys {
            try datasets[RunLayout.queries].write(row: row, queries)
            try datasets[RunLayout.keys].write(row: row, keys)
        }
        try file.flush()
        try datasets[RunLayout.complete].write(row: row, [UInt8(1)])
        try file.flush()
        complete[row] = true
    }

    /// Writes the head accuracy tables once every row is written, then marks them complete.
    /// Writing them again (after a resume) overwrites them in place.
    public func writeHeadTables(_ tables: HeadTables) throws {
        let (file, datasets) = try openParts()
        guard pendingRows.isEmpty else {
            throw RunStoreError(file.path, "cannot write head tables: \(pendingRows.count) rows are not written yet")
        }
        try datasets[RunLayout.accuracy].write(tables.accuracy)
        try datasets[RunLayout.accuracyBySteps].write(tables.accuracyBySteps)
        try datasets[RunLayout.accuracyByDistractors].write(tables.accuracyByDistractors)
        try datasets[RunLayout.baselineAccuracy].write([tables.baselineAccuracy])
        try datasets[RunLayout.baselineAccuracyBySteps].write(tables.baselineAccuracyBySteps)
        try datasets[RunLayout.baselineAccuracyByDistractors].write(tables.baselineAccuracyByDistractors)
        try file.flush()
        try datasets[RunLayout.headsComplete].write([UInt8(1)])
        try file.flush()
    }

    /// The file as it stands, read through this open handle (scores of every row, written by this
    /// process or an earlier one), for the head tables.
    public func reader() throws -> RunReader {
        let (_, datasets) = try openParts()
        return try RunReader(url: url, datasets: datasets)
    }

    /// Flushes and closes the file; later writes fail. Dropping the last reference closes it too.
    public func close() throws {
        guard let (file, _) = open else { return }
        try file.flush()
        open = nil
    }

    private func openParts() throws -> (H5File, RunLayout.Opened) {
        guard let open else { throw RunStoreError(url.path, "the run file is closed") }
        return open
    }
}
