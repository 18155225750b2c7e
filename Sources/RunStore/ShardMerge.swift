// Merging the shards of a run (`probe --shard I/N`) back into the run they split.
//
// The merged file is laid out by the same code as a probe's (RunLayout.build, from the shards'
// common header and their samples in the whole run's order), then every dataset of the
// per-sample groups is copied row by row from the shards, whatever the layout holds there, and
// the head tables are recomputed from the merged scores. Each row is the bytes its shard wrote,
// so the result equals an unsharded run with the same thread count in every per-sample dataset.
//
// Crash safety: the file is built under a temporary name next to the output and renamed into
// place only when complete, so a killed merge leaves nothing under the output's name.
import CHDF5
import Foundation

/// What a merge produced.
public struct MergeSummary: Sendable {
    public let output: URL
    public let shards: Int
    public let rows: Int
}

public enum ShardMerge {
    /// Root attributes that may differ between the shards of one run: when each was made, where
    /// the model lay on that node (its content is `model_sha256`), which shard it is.
    static let perShardAttributes: Set<String> = ["created", "model_path", "shard_index"]

    /// Suffix of the file a merge builds before renaming it to the output.
    public static let temporarySuffix = ".merging"

    private struct Part {
        let url: URL
        let file: H5File
        let layout: RunLayout.Opened
        let shard: RunShard
        var path: String { url.path }
    }

    /// Merges `inputs`, the shards of one run, into a new run file at `output`.
    /// - Parameter headTables: the head tables of the merged rows (computed above RunStore,
    ///   which knows no accuracy).
    public static func merge(_ inputs: [URL], into output: URL, overwrite: Bool = false,
                             headTables: (RunReader) throws -> HeadTables) throws -> MergeSummary {
        try checkPaths(inputs, output, overwrite: overwrite)
        let parts = try inputs.map(openShard)
        try checkSameRun(parts)
        try checkRows(parts, output)
        let spec = try mergedSpec(parts)
        try RunLayout.validate(spec, output.path)
        try RunFile.ensureRoom(for: RunLayout.preallocatedBytes(spec), at: output.path)

        try createAtomically(output.path, suffix: temporarySuffix, what: "merged run") { temporary in
            try build(temporary, spec, from: parts)
            let temporaryURL = URL(fileURLWithPath: temporary)
            let tables = try headTables(try RunReader(url: temporaryURL))
            let run = try RunFile.open(at: temporaryURL, spec: spec, ifExists: .resume)
            try run.writeHeadTables(tables)
            try run.close()
        }
        return MergeSummary(output: output, shards: parts.count, rows: spec.samples.count)
    }

    // MARK: checks

    private static func checkPaths(_ inputs: [URL], _ output: URL, overwrite: Bool) throws {
        guard !inputs.isEmpty else { throw RunStoreError(output.path, "no shard files to merge") }
        func identity(_ url: URL) -> String {
            var info = stat()
            if stat(url.path, &info) == 0 { return "\(info.st_dev):\(info.st_ino)" }
            return url.standardizedFileURL.resolvingSymlinksInPath().path
        }
        var seen: [String: URL] = [:]
        for input in inputs {
            if let earlier = seen.updateValue(input, forKey: identity(input)) {
                throw RunStoreError(input.path, "is given twice (also as \(earlier.path))")
            }
        }
        if seen[identity(output)] != nil {
            throw RunStoreError(output.path, "is one of the shards to merge; write the merged run to a new file")
        }
        if FileManager.default.fileExists(atPath: output.path) && !overwrite {
            throw RunStoreError(output.path, "already exists (pass --force to replace it)")
        }
    }

    private static func openShard(_ url: URL) throws -> Part {
        let file = try H5File.open(url.path, writable: false)
        let layout = try RunLayout.Opened(file)
        guard let shard = layout.shard else {
            throw RunStoreError(url.path, "is not a shard (no shard_index attribute): merge takes the files of probe --shard I/N")
        }
        return Part(url: url, file: file, layout: layout, shard: shard)
    }

    /// Refuses shards of different runs: model, dataset, template, settings, thread count,
    /// options, activations, the split, and every other root attribute the layout writes.
    private static func checkSameRun(_ parts: [Part]) throws {
        let first = parts[0]
        let firstOptions = try first.layout[RunLayout.options].readStrings()
        let firstNames = Set(try first.file.attributeNames()).subtracting(perShardAttributes)
        for part in parts.dropFirst() {
            func refuse(_ difference: String) -> RunStoreError {
                RunStoreError(part.path, "\(difference) than \(first.path): shards of one run share the model, dataset, settings and thread count")
            }
            for (mine, theirs) in zip(part.layout.header.resumeFingerprint, first.layout.header.resumeFingerprint)
            where mine.value != theirs.value {
                throw refuse("has \(mine.name) \(mine.value), another")
            }
            let (mine, theirs) = (part.shard, first.shard)
            guard mine.shard.count == theirs.shard.count, mine.totalRows == theirs.totalRows,
                  mine.datasetRows == theirs.datasetRows else {
                throw refuse("is shard \(mine.shard) of \(mine.totalRows) rows, another split")
            }
            let options = try part.layout[RunLayout.options].readStrings()
            guard options == firstOptions else { throw refuse("has options \(options), other") }
            guard part.layout.hasActivations == first.layout.hasActivations else {
                throw refuse(part.layout.hasActivations ? "has saved activations, other settings" : "has no saved activations, other settings")
            }
            let names = Set(try part.file.attributeNames()).subtracting(perShardAttributes)
            if let odd = names.symmetricDifference(firstNames).sorted().first {
                throw refuse("\(names.contains(odd) ? "has" : "lacks") attribute \(odd), another layout")
            }
            for name in names.sorted() {
                if try part.file.attributeValue(name) != first.file.attributeValue(name) { throw refuse("has another \(name)") }
            }
        }
    }

    /// Every row of the whole run in exactly one shard, and every shard complete.
    private static func checkRows(_ parts: [Part], _ output: URL) throws {
        let total = parts[0].shard.totalRows
        var owner = [Int](repeating: -1, count: total)
        for (index, part) in parts.enumerated() {
            var clashes: [Int: [Int]] = [:]
            for row in part.shard.rows {
                if owner[row] >= 0 { clashes[owner[row], default: []].append(row) } else { owner[row] = index }
            }
            if let other = clashes.keys.min() {
                throw RunStoreError(part.path, "shard \(part.shard.shard) overlaps \(parts[other].path) (shard \(parts[other].shard.shard)): both hold \(describeRows(clashes[other]!))")
            }
        }
        let missing = owner.indices.filter { owner[$0] < 0 }
        if !missing.isEmpty {
            let count = parts[0].shard.shard.count
            let given = Set(parts.map(\.shard.shard.index))
            let absent = (1...count).filter { !given.contains($0) }.map { "\($0)/\(count)" }
            throw RunStoreError(output.path, "cannot merge: \(describeRows(missing)) of the run's \(total) are in no shard given"
                                + (absent.isEmpty ? "" : " (missing: shard \(absent.joined(separator: ", ")))"))
        }
        for part in parts {
            let complete = try part.layout.readComplete()
            let pending = zip(part.shard.rows, complete).filter { !$0.1 }.map(\.0)
            if !pending.isEmpty {
                throw RunStoreError(part.path, "shard \(part.shard.shard) is incomplete, missing \(describeRows(pending)) of the run (finish it with probe --shard \(part.shard.shard) --resume)")
            }
        }
    }

    // MARK: building

    /// The whole run's spec: the first shard's header (created when the earliest shard was),
    /// the samples of all shards in the run's order.
    private static func mergedSpec(_ parts: [Part]) throws -> RunSpec {
        var samples = [SampleInfo?](repeating: nil, count: parts[0].shard.totalRows)
        for part in parts {
            for (row, sample) in zip(part.shard.rows, try part.layout.readSamples()) { samples[row] = sample }
        }
        var header = parts[0].layout.header
        header.created = parts.map(\.layout.header.created).min()!
        return RunSpec(header: header, options: try parts[0].layout[RunLayout.options].readStrings(),
                       samples: samples.map { $0! }, saveActivations: parts[0].layout.hasActivations)
    }

    private static func build(_ path: String, _ spec: RunSpec, from parts: [Part]) throws {
        let file = try H5File.create(path)
        try RunLayout.build(file, spec)
        // Root attributes the layout does not derive from the header, as the shards hold them.
        let first = parts[0]
        for name in try first.file.attributeNames()
        where !RunLayout.shardAttributes.contains(name) && !perShardAttributes.contains(name) {
            if try !file.hasAttribute(name) { try file.copyAttribute(name, from: first.file) }
        }
        let wanted = try RunLayout.perSampleGroups.flatMap { try first.file.datasetPaths(under: $0) }
        let laidOut = try RunLayout.perSampleGroups.flatMap { try file.datasetPaths(under: $0) }
        if let odd = Set(wanted).symmetricDifference(laidOut).sorted().first {
            throw RunStoreError(first.path, laidOut.contains(odd) ? "has no \(odd), which the merged run needs"
                                                                 : "has \(odd), which the merged layout lacks")
        }
        for datasetPath in wanted {
            let target = try file.openDataset(datasetPath)
            for part in parts {
                try target.copyRows(from: try part.file.openDataset(datasetPath), to: part.shard.rows)
            }
        }
        try file.flush()
    }
}
