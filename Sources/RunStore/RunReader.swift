// Reading a run back, for reports, selection and verification. Every shape is checked against
// the header before anything is read, so a damaged file gives an error, never a crash.
import Foundation

/// A run file opened for reading, with everything but the activations loaded.
public final class RunReader {
    public let url: URL
    public let header: RunHeader
    public let shape: RunShape
    public let options: [String]
    public let samples: [SampleInfo]
    /// Which rows hold results; the others are NaN in `qk` and `modelLogits`.
    public let complete: [Bool]
    /// [sample, option, layer, head]; index with `shape.scoreIndex` inside a sample's block.
    public let qk: [Float]
    /// [sample, option]
    public let modelLogits: [Float]
    /// The rows of the by-steps / by-distractors tables.
    public let stepsValues: [Int]
    public let distractorsValues: [Int]
    /// nil until the run wrote them (it does so once every row is complete).
    public let headTables: HeadTables?
    public let hasActivations: Bool
    /// Set when the file is one shard of a larger run (`probe --shard I/N`).
    public let shard: RunShard?
    private let datasets: RunLayout.Opened

    public convenience init(url: URL) throws {
        let file = try H5File.open(url.path, writable: false)
        try self.init(url: url, datasets: try RunLayout.Opened(file))
    }

    init(url: URL, datasets: RunLayout.Opened) throws {
        self.url = url
        self.datasets = datasets
        header = datasets.header
        shape = datasets.shape
        hasActivations = datasets.hasActivations
        shard = datasets.shard
        options = try datasets[RunLayout.options].readStrings()
        samples = try datasets.readSamples()
        complete = try datasets.readComplete()
        qk = try datasets[RunLayout.qk].read()
        modelLogits = try datasets[RunLayout.modelLogit].read()
        // A complete row holds finite numbers (the model's outputs); NaN or infinity there means a
        // damaged file, and counting it would report a made-up accuracy.
        let perSample = shape.scoresPerSample
        for row in complete.indices where complete[row] {
            let scoresFinite = qk[row * perSample..<(row + 1) * perSample].allSatisfy(\.isFinite)
            if !scoresFinite || !modelLogits[row * shape.options..<(row + 1) * shape.options].allSatisfy(\.isFinite) {
                throw RunStoreError(url.path, "sample \(row) is marked complete but its \(scoresFinite ? RunLayout.modelLogit : RunLayout.qk) "
                                    + "holds NaN or infinite values (a damaged file)")
            }
        }
        stepsValues = try datasets[RunLayout.stepsValues].read(as: Int16.self).map(Int.init)
        distractorsValues = try datasets[RunLayout.distractorsValues].read(as: Int16.self).map(Int.init)
        if try datasets[RunLayout.headsComplete].read(as: UInt8.self) == [1] {
            headTables = HeadTables(
                accuracy: try datasets[RunLayout.accuracy].read(),
                accuracyBySteps: try datasets[RunLayout.accuracyBySteps].read(),
                accuracyByDistractors: try datasets[RunLayout.accuracyByDistractors].read(),
                baselineAccuracy: try datasets[RunLayout.baselineAccuracy].read()[0],
                baselineAccuracyBySteps: try datasets[RunLayout.baselineAccuracyBySteps].read(),
                baselineAccuracyByDistractors: try datasets[RunLayout.baselineAccuracyByDistractors].read())
        } else {
            headTables = nil
        }
    }

    /// One sample's QK-scores, [option, layer, head].
    public func scores(sample: Int) -> ArraySlice<Float> {
        qk[sample * shape.scoresPerSample..<(sample + 1) * shape.scoresPerSample]
    }

    /// One sample's query vectors at the option tokens, [option, layer, head, d_head].
    public func queries(sample: Int) throws -> [Float] {
        try activations(RunLayout.queries, sample)
    }

    /// One sample's key vectors at the anchor, [layer, kv_head, d_head].
    public func keys(sample: Int) throws -> [Float] {
        try activations(RunLayout.keys, sample)
    }

    private func activations(_ path: String, _ sample: Int) throws -> [Float] {
        guard hasActivations else { throw RunStoreError(url.path, "the run saved no activations") }
        return try datasets[path].read(row: sample)
    }
}
