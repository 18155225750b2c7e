import Foundation

/// One hook stored by `qkprobe trace --dataset`: its name and the shape of its value at one
/// position ([d_model] or [heads, d_head]) with the names of those axes.
public struct TracedHook: Sendable, Equatable {
    public var name: String
    public var rowShape: [Int]
    public var rowDimensions: [String]

    public init(name: String, rowShape: [Int], rowDimensions: [String]) {
        self.name = name
        self.rowShape = rowShape
        self.rowDimensions = rowDimensions
    }
}

/// Activations of chosen hooks at chosen positions of every sample of a dataset, laid out as the
/// run file is (crash-safe): everything is created up front (per-row datasets contiguous,
/// preallocated and filled), a row is raw data written into that space, then its `complete` flag.
/// A killed trace leaves a file that opens, with every finished row intact.
///
///     /samples/id           [N] strings, dataset order
///     /samples/n_tokens     [N] int32, the prompt's tokens
///     /samples/token_ids    [N] vlen int32, the prompt's token ids (written at creation)
///     /samples/option_ids   [N, O] int32, each answer option's token id (written at creation)
///     /samples/positions    [N, P] int32: the token position of each slot, -1 where none
///     /samples/complete     [N] uint8, 1 once the row is written
///     /slots                [P] strings: what each slot is ("anchor", "option 0", "last", or "position 7")
///     /activations/<hook>   [N, P, ...row shape] float32, NaN until written (or where no position)
///
/// Every dataset has a `dimensions` attribute naming its axes (sample, slot, head, d_head, ...).
public final class TraceFile {
    public let url: URL
    public let hooks: [TracedHook]
    public let rows: Int
    public let slots: Int
    private let file: H5File
    private var activations: [H5Dataset]
    private let positions: H5Dataset
    private let tokenCounts: H5Dataset
    private let complete: H5Dataset

    /// Refuses files above `maximumBytes` of activations before creating anything.
    /// `tokenIDs` and `optionIDs` hold each sample's prompt tokens and option tokens (the same
    /// number of options for every sample), so a reader can rerun any row.
    public init(creating url: URL, sampleIDs: [String], tokenIDs: [[Int]], optionIDs: [[Int]], slotNames: [String],
                hooks: [TracedHook], attributes: [String: String], overwrite: Bool, maximumBytes: Int) throws {
        let path = url.path
        guard !sampleIDs.isEmpty, !slotNames.isEmpty, !hooks.isEmpty else {
            throw RunStoreError(path, "a trace needs samples, positions and hooks")
        }
        let optionCount = optionIDs.first?.count ?? 0
        guard tokenIDs.count == sampleIDs.count, optionIDs.count == sampleIDs.count,
              optionIDs.allSatisfy({ $0.count == optionCount }) else {
            throw RunStoreError(path, "a trace needs the token ids and as many option ids of every sample")
        }
        let idRange = 0 ... Int(Int32.max)
        guard tokenIDs.allSatisfy({ $0.allSatisfy(idRange.contains) }), optionIDs.allSatisfy({ $0.allSatisfy(idRange.contains) }) else {
            throw RunStoreError(path, "a token id is outside 0...\(Int32.max)")
        }
        var total = 0
        for hook in hooks {
            guard !hook.name.isEmpty, !hook.name.contains("/"), hook.rowShape.count == hook.rowDimensions.count,
                  let width = elementCount(hook.rowShape), width > 0,
                  let bytes = elementCount([sampleIDs.count, slotNames.count, width, 4]) else {
                throw RunStoreError(path, "hook \(hook.name) cannot be stored (shape \(hook.rowShape))")
            }
            let (sum, overflow) = total.addingReportingOverflow(bytes)
            guard !overflow else { throw RunStoreError(path, "the trace is too large to store") }
            total = sum
        }
        guard total <= maximumBytes else {
            throw RunStoreError(path, "the trace would take \(total / 1_000_000) MB, over the limit of \(maximumBytes / 1_000_000) MB; "
                                + "choose fewer hooks, positions or samples, or raise --max-mb")
        }
        if FileManager.default.fileExists(atPath: path), !overwrite {
            throw RunStoreError(path, "exists; pass --force to replace it")
        }
        self.url = url
        self.hooks = hooks
        rows = sampleIDs.count
        slots = slotNames.count
        file = try H5File.create(path)
        for (name, value) in attributes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(name, value) }
        try file.createGroup("/samples")
        try file.createGroup("/activations")
        let ids = try file.createDataset("/samples/id", element: .utf8String, shape: [rows], storage: .compressed(rowsPerChunk: rows))
        try ids.writeStrings(sampleIDs)
        try ids.setAttribute("dimensions", "sample")
        let slotNamesDataset = try file.createDataset("/slots", element: .utf8String, shape: [slots], storage: .compressed(rowsPerChunk: slots))
        try slotNamesDataset.writeStrings(slotNames)
        try slotNamesDataset.setAttribute("dimensions", "slot")
        tokenCounts = try file.createDataset("/samples/n_tokens", element: .scalar(Int32.self), shape: [rows],
                                             storage: .preallocated(fill: H5Fill(Int32(-1))))
        try tokenCounts.setAttribute("dimensions", "sample")
        let tokens = try file.createDataset("/samples/token_ids", element: .int32Sequence, shape: [rows],
                                            storage: .compressed(rowsPerChunk: rows))
        try tokens.writeInt32Sequences(tokenIDs.map { $0.map { Int32($0) } })
        try tokens.setAttribute("dimensions", "sample")
        if optionCount > 0 {
            let options = try file.createDataset("/samples/option_ids", element: .scalar(Int32.self), shape: [rows, optionCount],
                                                 storage: .compressed(rowsPerChunk: rows))
            try options.write(optionIDs.flatMap { $0.map { Int32($0) } })
            try options.setAttribute("dimensions", "sample,option")
        }
        positions = try file.createDataset("/samples/positions", element: .scalar(Int32.self), shape: [rows, slots],
                                           storage: .preallocated(fill: H5Fill(Int32(-1))))
        try positions.setAttribute("dimensions", "sample,slot")
        activations = []
        for hook in hooks {
            let dataset = try file.createDataset("/activations/\(hook.name)", element: .scalar(Float.self),
                                                 shape: [rows, slots] + hook.rowShape, storage: .preallocated(fill: H5Fill(Float.nan)))
            try dataset.setAttribute("dimensions", (["sample", "slot"] + hook.rowDimensions).joined(separator: ","))
            activations.append(dataset)
        }
        complete = try file.createDataset("/samples/complete", element: .scalar(UInt8.self), shape: [rows],
                                          storage: .preallocated(fill: H5Fill(UInt8(0))))
        try complete.setAttribute("dimensions", "sample")
        try file.flush()
    }

    /// Writes one sample: the position of each slot (-1 for none) and, per hook in order, its
    /// values at the slots ([P, ...row shape], NaN where there is no position); then marks it complete.
    public func write(row: Int, tokenCount: Int, slotPositions: [Int], values: [[Float]]) throws {
        guard (0 ..< rows).contains(row) else { throw RunStoreError(url.path, "row \(row) is outside the trace's \(rows) samples") }
        guard slotPositions.count == slots, values.count == hooks.count else {
            throw RunStoreError(url.path, "row \(row): \(slotPositions.count) positions and \(values.count) hooks for \(slots) and \(hooks.count)")
        }
        try tokenCounts.write(row: row, [Int32(clamping: tokenCount)])
        try positions.write(row: row, slotPositions.map { Int32(clamping: $0) })
        for (dataset, rowValues) in zip(activations, values) { try dataset.write(row: row, rowValues) }
        try file.flush()
        try complete.write(row: row, [UInt8(1)])
        try file.flush()
    }
}
