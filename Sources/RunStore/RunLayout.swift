// The run file, layout version 1 (DESIGN.md, "The HDF5 run file", plus the additions marked +).
//
// /                    attrs: format="qkprobe-run", format_version=1, tool_version, created,
//                             model_name, model_path, model_sha256, architecture, n_layers,
//                             n_heads, n_kv_heads, d_head, dataset_name, dataset_sha256,
//                             template, qk_rope ("pre"|"post"), qk_scale (float32),
//                             + threads (a resume must use the same count to be bit-exact)
//                             + weights ("stored"|"float32": how the model kept its weights)
//                             + anchor_rule ("before-cue"|"question-end"|"marked"), answer_cue
//                               (absent in older files: read as "question-end" and "Answer")
//                             + chat_template ("none"|"chatml"|"llama3"|"mistral"|"gemma"),
//                               shots, shots_dataset, shots_sha256, shots_seed (absent: none, 0)
// /options                  [O] string (UTF-8)
// /samples/id               [N] string                    written at creation, compressed
// /samples/label            [N] int8      -1 absent       written at creation, compressed
// /samples/steps            [N] int16     -1 unknown      written at creation, compressed
// /samples/distractors      [N] int16     -1 unknown      written at creation, compressed
// /samples/n_tokens         [N] int32                     written at creation, compressed
// /samples/anchor           [N] int32                     written at creation, compressed
// + /samples/token_ids      [N] vlen int32  prompt tokens written at creation, compressed
// + /samples/options        [N, O] string   each sample's options, written at creation, compressed
// + /samples/option_ids     [N, O] int32    the token each is scored at (-1 unknown), likewise
//                           (absent in older files: every sample has /options, ids unknown;
//                           /options is the run's list, or for samples whose options differ
//                           each position's distinct texts joined by "|")
// + /samples/shot_ids       [N] string   the demonstrations' ids, "\n"-separated; runs with shots only
// + /samples/key_positions  [N, O] int32 each option's key position; geometry "mcqa" only
//                           (root attributes + geometry "options"|"mcqa", mcqa_key; absent: "options")
// /samples/complete         [N] uint8   1 once the row's scores (and activations) are written
// /scores/qk                [N, O, L, H] float32          NaN until written
// /scores/model_logit       [N, O] float32                NaN until written
// /activations/q            [N, O, L, H, Dh] float32      only when activations are saved
// /activations/k            [N, L, Hkv, Dh] float32       only when activations are saved
// + /heads/steps_values         [S] int16   distinct known /samples/steps, ascending
// + /heads/distractors_values   [D] int16   distinct known /samples/distractors, ascending
// /heads/accuracy               [L, H] float32            NaN until written
// + /heads/accuracy_by_steps        [S, L, H] float32     row s is steps_values[s]
// + /heads/accuracy_by_distractors  [D, L, H] float32
// + /heads/baseline_accuracy        [] float32 (scalar)   the model's own accuracy
// + /heads/baseline_accuracy_by_steps        [S] float32
// + /heads/baseline_accuracy_by_distractors  [D] float32
// + /heads/complete                 [] uint8  1 once every /heads table is written
// + /shard/rows             [n] int64  only in a shard's file (probe --shard I/N): the whole
//                            run's row of each of its rows, ascending; written at creation.
//                            With it, root attrs shard_index (I), shard_count (N),
//                            shard_total_rows (rows of the whole run) and dataset_rows (samples
//                            in the dataset). `qkprobe merge` drops all of them.
//
// Every dataset under the per-sample groups (/samples, /scores, /activations) has the sample as
// its first dimension: `merge` concatenates exactly those, so a new per-sample dataset belongs
// there.
//
// Crash safety. HDF5 1.10 does not update its metadata atomically, so a run never changes
// metadata after creation:
// - The whole file is built under a temporary name (every dataset at its final size, samples,
//   options and attributes written), closed, and renamed into place: a kill during creation
//   leaves no half-built file at the output path.
// - Everything written later (/samples/complete, /scores, /activations, /heads) is contiguous,
//   allocated and filled when created. A write then only overwrites bytes inside space that
//   already exists; the file never grows and no object header, B-tree or heap changes.
//   (Chunked storage would add a chunk index per dataset and buys nothing here: these datasets
//   never grow and are not compressed.)
// - Those datasets are not compressed: a compressed chunk changes size when rewritten and is
//   reallocated, which updates the chunk index, a metadata write a kill could tear. Only data
//   written once at creation (/samples/*) is compressed.
// - A row is written as: its data, flush, complete[row] = 1, flush. A kill at any moment
//   leaves every row flagged complete intact; the others are simply written again.
// - The fill values (NaN, 0) are written at creation, so the disk space is really taken then:
//   a full disk stops the run when it starts, not halfway.
// Files use HDF5's default (earliest) format: no SWMR status flag is left by a killed writer.
import CHDF5

enum RunLayout {
    static let format = "qkprobe-run"
    static let formatVersion = 1

    static let options = "/options"
    static let sampleID = "/samples/id"
    static let label = "/samples/label"
    static let steps = "/samples/steps"
    static let distractors = "/samples/distractors"
    static let nTokens = "/samples/n_tokens"
    static let anchor = "/samples/anchor"
    static let tokenIDs = "/samples/token_ids"
    static let sampleOptions = "/samples/options"
    static let sampleOptionIDs = "/samples/option_ids"
    static let shotIDs = "/samples/shot_ids"
    static let keyPositions = "/samples/key_positions"
    static let complete = "/samples/complete"
    static let qk = "/scores/qk"
    static let modelLogit = "/scores/model_logit"
    static let queries = "/activations/q"
    static let keys = "/activations/k"
    static let stepsValues = "/heads/steps_values"
    static let distractorsValues = "/heads/distractors_values"
    static let accuracy = "/heads/accuracy"
    static let accuracyBySteps = "/heads/accuracy_by_steps"
    static let accuracyByDistractors = "/heads/accuracy_by_distractors"
    static let baselineAccuracy = "/heads/baseline_accuracy"
    static let baselineAccuracyBySteps = "/heads/baseline_accuracy_by_steps"
    static let baselineAccuracyByDistractors = "/heads/baseline_accuracy_by_distractors"
    static let headsComplete = "/heads/complete"
    static let shardRows = "/shard/rows"

    /// Groups whose every dataset has the sample as its first dimension.
    static let perSampleGroups = ["/samples", "/scores", "/activations"]
    /// Root attributes only a shard's file has.
    static let shardAttributes = ["shard_index", "shard_count", "shard_total_rows", "dataset_rows"]

    /// Largest dimension accepted from a file's attributes (a guard against corrupt headers).
    static let maxDimension = 1 << 20
    /// Rows per compressed chunk of the per-sample metadata.
    static let rowsPerChunk = 1 << 16

    // MARK: creating

    /// Lays out the complete file for a validated `spec`: everything but the rows' results and
    /// head tables.
    static func build(_ file: H5File, _ spec: RunSpec) throws {
        try writeHeader(spec.header, to: file)
        let shape = spec.shape
        let samples = spec.samples
        let n = samples.count
        for group in ["/samples", "/scores", "/heads"] + (spec.saveActivations ? ["/activations"] : []) {
            try file.createGroup(group)
        }
        try file.createDataset(options, element: .utf8String, shape: [spec.options.count],
                               storage: .compressed(rowsPerChunk: spec.options.count)).writeStrings(spec.options)

        let perSample = H5Storage.compressed(rowsPerChunk: min(n, rowsPerChunk))
        try file.createDataset(sampleID, element: .utf8String, shape: [n], storage: perSample)
            .writeStrings(samples.map(\.id))
        try file.createDataset(label, element: .scalar(Int8.self), shape: [n], storage: perSample)
            .write(samples.map { Int8($0.label) })
        try file.createDataset(steps, element: .scalar(Int16.self), shape: [n], storage: perSample)
            .write(samples.map { Int16($0.steps) })
        try file.createDataset(distractors, element: .scalar(Int16.self), shape: [n], storage: perSample)
            .write(samples.map { Int16($0.distractors) })
        try file.createDataset(nTokens, element: .scalar(Int32.self), shape: [n], storage: perSample)
            .write(samples.map { Int32($0.tokenIDs.count) })
        try file.createDataset(anchor, element: .scalar(Int32.self), shape: [n], storage: perSample)
            .write(samples.map { Int32($0.anchor) })
        try file.createDataset(tokenIDs, element: .int32Sequence, shape: [n], storage: perSample)
            .writeInt32Sequences(samples.map(\.tokenIDs))
        let optionsStorage = H5Storage.compressed(rowsPerChunk: min(n, max(1, rowsPerChunk / spec.options.count)))
        try file.createDataset(sampleOptions, element: .utf8String, shape: [n, spec.options.count], storage: optionsStorage)
            .writeStrings(samples.flatMap(\.options))
        try file.createDataset(sampleOptionIDs, element: .scalar(Int32.self), shape: [n, spec.options.count], storage: optionsStorage)
            .write(samples.flatMap(\.optionIDs))
        if spec.header.geometry == "mcqa" {
            try file.createDataset(keyPositions, element: .scalar(Int32.self), shape: [n, spec.options.count], storage: optionsStorage)
                .write(samples.flatMap(\.keyPositions))
        }
        if spec.header.shots > 0 {
            try file.createDataset(shotIDs, element: .utf8String, shape: [n], storage: perSample)
                .writeStrings(samples.map { $0.shotIDs.joined(separator: "\n") })
        }

        let unwritten = H5Storage.preallocated(fill: H5Fill(Float.nan))
        let notYet = H5Storage.preallocated(fill: H5Fill(UInt8(0)))
        let (o, l, h) = (shape.options, shape.layers, shape.heads)
        _ = try file.createDataset(complete, element: .scalar(UInt8.self), shape: [n], storage: notYet)
        var floatDatasets = [(qk, [n, o, l, h]), (modelLogit, [n, o])]
        if spec.saveActivations {
            floatDatasets += [(queries, [n, o, l, h, shape.headDim]), (keys, [n, l, shape.kvHeads, shape.headDim])]
        }
        let (s, d) = (spec.stepsValues, spec.distractorsValues)
        try file.createDataset(stepsValues, element: .scalar(Int16.self), shape: [s.count],
                               storage: .preallocated(fill: H5Fill(Int16(-1)))).write(s.map { Int16($0) })
        try file.createDataset(distractorsValues, element: .scalar(Int16.self), shape: [d.count],
                               storage: .preallocated(fill: H5Fill(Int16(-1)))).write(d.map { Int16($0) })
        floatDatasets += [
            (accuracy, [l, h]), (accuracyBySteps, [s.count, l, h]), (accuracyByDistractors, [d.count, l, h]),
            (baselineAccuracy, []), (baselineAccuracyBySteps, [s.count]), (baselineAccuracyByDistractors, [d.count]),
        ]
        for (path, dims) in floatDatasets {
            _ = try file.createDataset(path, element: .scalar(Float.self), shape: dims, storage: unwritten)
        }
        _ = try file.createDataset(headsComplete, element: .scalar(UInt8.self), shape: [], storage: notYet)
        if let shard = spec.shard { try writeShard(shard, to: file) }
    }

    private static func writeShard(_ shard: RunShard, to file: H5File) throws {
        try file.setAttribute("shard_index", Int64(shard.shard.index))
        try file.setAttribute("shard_count", Int64(shard.shard.count))
        try file.setAttribute("shard_total_rows", Int64(shard.totalRows))
        try file.setAttribute("dataset_rows", Int64(shard.datasetRows))
        try file.createGroup("/shard")
        try file.createDataset(shardRows, element: .scalar(Int64.self), shape: [shard.rows.count],
                               storage: .compressed(rowsPerChunk: min(shard.rows.count, rowsPerChunk)))
            .write(shard.rows.map { Int64($0) })
    }

    /// The shard a file holds, nil for a whole run; checked against itself and `samples`.
    static func readShard(_ file: H5File, samples: Int) throws -> RunShard? {
        guard try file.hasAttribute("shard_index") else { return nil }
        let path = file.path
        func count(_ name: String) throws -> Int {
            let value = try file.attribute(name, as: Int64.self)
            guard (1...Int64(Int32.max)).contains(value) else {
                throw RunStoreError(path, "attribute \(name) is \(value), outside 1...\(Int32.max)")
            }
            return Int(value)
        }
        let shard: Shard
        do { shard = try Shard(index: count("shard_index"), count: count("shard_count")) } catch let error as ShardError {
            throw RunStoreError(path, error.description)
        }
        let total = try count("shard_total_rows")
        let stored = try file.openDataset(shardRows)
        guard stored.shape == [samples] else {
            throw RunStoreError(path, "\(shardRows) has shape \(stored.shape), expected [\(samples)]")
        }
        let rows = try stored.read(as: Int64.self)
        for (index, row) in rows.enumerated() where !(0..<Int64(total)).contains(row) || (index > 0 && row <= rows[index - 1]) {
            throw RunStoreError(path, "\(shardRows)[\(index)] is \(row): rows must ascend within 0..<\(total)")
        }
        return RunShard(shard: shard, totalRows: total, datasetRows: try count("dataset_rows"), rows: rows.map { Int($0) })
    }

    /// Bytes of the datasets preallocated at creation: a lower bound of the file's size.
    static func preallocatedBytes(_ spec: RunSpec) -> Int {
        let shape = spec.shape
        let (l, h, s, d) = (shape.layers, shape.heads, spec.stepsValues.count, spec.distractorsValues.count)
        let activations = spec.saveActivations ? shape.queriesPerSample + shape.keysPerSample : 0
        let floatsPerSample = shape.scoresPerSample + shape.options + activations
        let perSample = MemoryLayout<UInt8>.size + floatsPerSample * MemoryLayout<Float>.size
        let headFloats = l * h * (1 + s + d) + 1 + s + d
        let (bytes, overflow) = shape.samples.multipliedReportingOverflow(by: perSample)
        return overflow ? Int.max : bytes + headFloats * MemoryLayout<Float>.size + 2 * (s + d) + 1
    }

    /// Refuses a spec that cannot make a valid file, before anything is written.
    static func validate(_ spec: RunSpec, _ path: String) throws {
        let header = spec.header
        func fail(_ problem: String) -> RunStoreError { RunStoreError(path, "cannot create the run: \(problem)") }
        for (name, value) in [("n_layers", header.nLayers), ("n_heads", header.nHeads),
                              ("n_kv_heads", header.nKVHeads), ("d_head", header.dHead), ("threads", header.threads)]
        where !(1...maxDimension).contains(value) {
            throw fail("\(name) is \(value)")
        }
        guard header.nHeads % header.nKVHeads == 0 else {
            throw fail("n_heads \(header.nHeads) is not a multiple of n_kv_heads \(header.nKVHeads)")
        }
        guard header.qkScale.isFinite && header.qkScale > 0 else { throw fail("qk_scale is \(header.qkScale)") }
        guard (1...Int(Int8.max)).contains(spec.options.count) else {
            throw fail("\(spec.options.count) options (1 to \(Int8.max) are supported)")
        }
        guard !spec.samples.isEmpty else { throw fail("no samples") }
        if let shard = spec.shard {
            guard shard.rows.count == spec.samples.count else {
                throw fail("shard \(shard.shard) lists \(shard.rows.count) rows for \(spec.samples.count) samples")
            }
            guard zip(shard.rows, shard.rows.dropFirst()).allSatisfy({ $0 < $1 }),
                  shard.rows.allSatisfy({ (0..<shard.totalRows).contains($0) }) else {
                throw fail("shard \(shard.shard) rows must ascend within 0..<\(shard.totalRows)")
            }
        }
        let shape = spec.shape
        let largest = [shape.samples, shape.options, shape.layers, shape.heads, shape.headDim, MemoryLayout<Float>.size]
        guard let bytes = elementCount(largest), bytes <= Int.max / 4 else { throw fail("the score arrays are too large") }
        let known = -1...Int(Int16.max)
        for (index, sample) in spec.samples.enumerated() {
            let problem: String? =
                !(-1..<spec.options.count).contains(sample.label) ? "label \(sample.label) is not an option index or -1"
                : !known.contains(sample.steps) ? "steps \(sample.steps) is outside -1...\(Int16.max)"
                : !known.contains(sample.distractors) ? "distractors \(sample.distractors) is outside -1...\(Int16.max)"
                : !sample.tokenIDs.indices.contains(sample.anchor)
                    ? "anchor \(sample.anchor) is outside its \(sample.tokenIDs.count) tokens"
                : sample.options.count != spec.options.count || sample.optionIDs.count != spec.options.count
                    ? "\(sample.options.count) options and \(sample.optionIDs.count) option ids, the run has \(spec.options.count) options"
                : Set(sample.options).count != sample.options.count ? "it repeats an option"
                : spec.header.geometry == "mcqa" && (sample.keyPositions.count != spec.options.count
                    || !sample.keyPositions.allSatisfy { sample.tokenIDs.indices.contains(Int($0)) })
                    ? "its option keys \(sample.keyPositions) do not fit its \(sample.tokenIDs.count) tokens" : nil
            if let problem { throw fail("sample \(index) (\(sample.id)): \(problem)") }
        }
    }

    private static func writeHeader(_ header: RunHeader, to file: H5File) throws {
        try file.setAttribute("format", format)
        try file.setAttribute("format_version", Int64(formatVersion))
        for (name, value) in [("tool_version", header.toolVersion), ("created", header.created),
                              ("model_name", header.modelName), ("model_path", header.modelPath),
                              ("model_sha256", header.modelSHA256), ("architecture", header.architecture),
                              ("dataset_name", header.datasetName), ("dataset_sha256", header.datasetSHA256),
                              ("template", header.template), ("anchor_rule", header.anchorRule),
                              ("answer_cue", header.answerCue), ("qk_rope", header.qkRope.rawValue),
                              ("chat_template", header.chatTemplate), ("shots_dataset", header.shotsDataset),
                              ("shots_sha256", header.shotsSHA256), ("geometry", header.geometry),
                              ("mcqa_key", header.mcqaKey)] {
            try file.setAttribute(name, value)
        }
        for (name, value) in [("n_layers", header.nLayers), ("n_heads", header.nHeads),
                              ("n_kv_heads", header.nKVHeads), ("d_head", header.dHead), ("threads", header.threads),
                              ("shots", header.shots), ("shots_seed", header.shotsSeed)] {
            try file.setAttribute(name, Int64(value))
        }
        try file.setAttribute("qk_scale", header.qkScale)
        try file.setAttribute("weights", header.weights)
        // add_bos_token 1 or 0, and the token (-1 for none).
        try file.setAttribute("add_bos_token", Int64(header.bosTokenID == nil ? 0 : 1))
        try file.setAttribute("bos_token_id", Int64(header.bosTokenID ?? -1))
    }

    // MARK: reading

    /// `add_bos_token` and `bos_token_id`: the token when the first is 1 (a non-negative id).
    private static func readBOSToken(_ file: H5File) throws -> Int? {
        guard try file.hasAttribute("add_bos_token"), try file.attribute("add_bos_token", as: Int64.self) == 1 else { return nil }
        let id = try file.attribute("bos_token_id", as: Int64.self)
        guard (0 ..< (1 << 24)).contains(id) else {
            throw RunStoreError(file.path, "attribute bos_token_id is \(id), but add_bos_token is 1")
        }
        return Int(id)
    }

    static func readHeader(_ file: H5File) throws -> RunHeader {
        let path = file.path
        guard try file.hasAttribute("format"), try file.stringAttribute("format") == format else {
            throw RunStoreError(path, "not a qkprobe run file (no format=\"\(format)\" attribute)")
        }
        let version = try file.attribute("format_version", as: Int64.self)
        guard version == formatVersion else {
            throw RunStoreError(path, "run file format_version \(version) is not supported (this qkprobe reads \(formatVersion))")
        }
        func dimension(_ name: String) throws -> Int {
            let value = try file.attribute(name, as: Int64.self)
            guard (1...Int64(maxDimension)).contains(value) else {
                throw RunStoreError(path, "attribute \(name) is \(value), outside 1...\(maxDimension)")
            }
            return Int(value)
        }
        let ropeText = try file.stringAttribute("qk_rope")
        guard let rope = QKRope(rawValue: ropeText) else {
            throw RunStoreError(path, "attribute qk_rope is \"\(ropeText)\", expected \"pre\" or \"post\"")
        }
        let header = RunHeader(
            toolVersion: try file.stringAttribute("tool_version"), created: try file.stringAttribute("created"),
            modelName: try file.stringAttribute("model_name"), modelPath: try file.stringAttribute("model_path"),
            modelSHA256: try file.stringAttribute("model_sha256"), architecture: try file.stringAttribute("architecture"),
            nLayers: try dimension("n_layers"), nHeads: try dimension("n_heads"),
            nKVHeads: try dimension("n_kv_heads"), dHead: try dimension("d_head"),
            datasetName: try file.stringAttribute("dataset_name"),
            datasetSHA256: try file.stringAttribute("dataset_sha256"), template: try file.stringAttribute("template"),
            anchorRule: try file.hasAttribute("anchor_rule") ? file.stringAttribute("anchor_rule") : "question-end",
            answerCue: try file.hasAttribute("answer_cue") ? file.stringAttribute("answer_cue") : "Answer",
            chatTemplate: try file.hasAttribute("chat_template") ? file.stringAttribute("chat_template") : "none",
            shots: try file.hasAttribute("shots") ? Int(clamping: file.attribute("shots", as: Int64.self)) : 0,
            shotsDataset: try file.hasAttribute("shots_dataset") ? file.stringAttribute("shots_dataset") : "",
            shotsSHA256: try file.hasAttribute("shots_sha256") ? file.stringAttribute("shots_sha256") : "",
            shotsSeed: try file.hasAttribute("shots_seed") ? Int(clamping: file.attribute("shots_seed", as: Int64.self)) : 0,
            geometry: try file.hasAttribute("geometry") ? file.stringAttribute("geometry") : "options",
            mcqaKey: try file.hasAttribute("mcqa_key") ? file.stringAttribute("mcqa_key") : "",
            qkRope: rope, qkScale: try file.attribute("qk_scale", as: Float.self),
            threads: try dimension("threads"),
            weights: try file.hasAttribute("weights") ? file.stringAttribute("weights") : "float32",
            bosTokenID: try readBOSToken(file))
        guard header.nHeads % header.nKVHeads == 0 else {
            throw RunStoreError(path, "n_heads \(header.nHeads) is not a multiple of n_kv_heads \(header.nKVHeads)")
        }
        return header
    }

    /// The run's datasets, opened and checked against the header's dimensions before anything
    /// is read, so a damaged file is refused with the dataset's name rather than misread.
    struct Opened {
        let header: RunHeader
        let shape: RunShape
        let hasActivations: Bool
        /// Set in a shard's file.
        let shard: RunShard?
        /// Whether the file stores options per sample (older files do not).
        let hasSampleOptions: Bool
        let hasShotIDs: Bool
        let hasKeyPositions: Bool
        let datasets: [String: H5Dataset]

        subscript(_ path: String) -> H5Dataset { datasets[path]! }

        init(_ file: H5File) throws {
            header = try readHeader(file)
            hasActivations = try file.exists(queries) || file.exists(keys)
            hasSampleOptions = try file.exists(sampleOptions) || file.exists(sampleOptionIDs)
            hasShotIDs = try file.exists(shotIDs)
            hasKeyPositions = try file.exists(keyPositions)
            var datasets: [String: H5Dataset] = [:]
            for path in [options, sampleID, label, steps, distractors, nTokens, anchor, tokenIDs, complete, qk,
                         modelLogit, stepsValues, distractorsValues, accuracy, accuracyBySteps,
                         accuracyByDistractors, baselineAccuracy, baselineAccuracyBySteps,
                         baselineAccuracyByDistractors, headsComplete] + (hasActivations ? [queries, keys] : [])
                + (hasSampleOptions ? [sampleOptions, sampleOptionIDs] : []) + (hasShotIDs ? [shotIDs] : []) + (hasKeyPositions ? [keyPositions] : []) {
                datasets[path] = try file.openDataset(path)
            }
            func dims(_ path: String) -> [Int] { datasets[path]!.shape }
            guard dims(options).count == 1, dims(sampleID).count == 1 else {
                throw RunStoreError(file.path, "\(options) and \(sampleID) must be one-dimensional")
            }
            shape = RunShape(samples: dims(sampleID)[0], options: dims(options)[0], layers: header.nLayers,
                             heads: header.nHeads, kvHeads: header.nKVHeads, headDim: header.dHead)
            let (n, o, l, h) = (shape.samples, shape.options, shape.layers, shape.heads)
            let (s, d) = (dims(stepsValues).first ?? -1, dims(distractorsValues).first ?? -1)
            var expected: [(String, [Int])] = [
                (label, [n]), (steps, [n]), (distractors, [n]), (nTokens, [n]), (anchor, [n]), (tokenIDs, [n]),
                (complete, [n]), (qk, [n, o, l, h]), (modelLogit, [n, o]), (stepsValues, [s]),
                (distractorsValues, [d]), (accuracy, [l, h]), (accuracyBySteps, [s, l, h]),
                (accuracyByDistractors, [d, l, h]), (baselineAccuracy, []), (baselineAccuracyBySteps, [s]),
                (baselineAccuracyByDistractors, [d]), (headsComplete, []),
            ]
            if hasSampleOptions { expected += [(sampleOptions, [n, o]), (sampleOptionIDs, [n, o])] }
            if hasShotIDs { expected += [(shotIDs, [n])] }
            if hasKeyPositions { expected += [(keyPositions, [n, o])] }
            if hasActivations {
                expected += [(queries, [n, o, l, h, shape.headDim]), (keys, [n, l, shape.kvHeads, shape.headDim])]
            }
            for (path, shape) in expected where dims(path) != shape {
                throw RunStoreError(file.path, "\(path) has shape \(dims(path)), expected \(shape)")
            }
            // The scores are stored uncompressed, so an honest file is at least this large;
            // checking it bounds every allocation the reader makes from the shapes above.
            let scoreBytes = elementCount([n, o, l, h, 4]) ?? Int.max
            guard scoreBytes <= (try file.fileSize) else {
                throw RunStoreError(file.path, "\(qk) of shape \([n, o, l, h]) does not fit in the file")
            }
            shard = try readShard(file, samples: n)
            self.datasets = datasets
        }

        /// The samples as stored, checked against each other and the options.
        func readSamples() throws -> [SampleInfo] {
            let path = self[sampleID].path
            let ids = try self[sampleID].readStrings()
            let labels = try self[label].read(as: Int8.self)
            let steps = try self[RunLayout.steps].read(as: Int16.self)
            let distractors = try self[RunLayout.distractors].read(as: Int16.self)
            let counts = try self[nTokens].read(as: Int32.self)
            let anchors = try self[anchor].read(as: Int32.self)
            let tokens = try self[tokenIDs].readInt32Sequences()
            let o = shape.options
            let runOptions = try self[options].readStrings()
            let optionTexts = hasSampleOptions ? try self[sampleOptions].readStrings() : Array(repeating: runOptions, count: ids.count).flatMap { $0 }
            let keys = hasKeyPositions ? try self[keyPositions].read(as: Int32.self) : []
            let shots = hasShotIDs ? try self[shotIDs].readStrings() : Array(repeating: "", count: ids.count)
            let optionIDs = hasSampleOptions ? try self[sampleOptionIDs].read(as: Int32.self) : Array(repeating: -1, count: ids.count * o)
            return try ids.indices.map { index in
                let sample = SampleInfo(id: ids[index], label: Int(labels[index]), steps: Int(steps[index]),
                                        distractors: Int(distractors[index]), tokenIDs: tokens[index],
                                        anchor: Int(anchors[index]),
                                        options: Array(optionTexts[(index * o)..<((index + 1) * o)]),
                                        optionIDs: Array(optionIDs[(index * o)..<((index + 1) * o)]),
                                        shotIDs: shots[index].isEmpty ? [] : shots[index].split(separator: "\n", omittingEmptySubsequences: false).map(String.init),
                                        keyPositions: keys.isEmpty ? [] : Array(keys[(index * o)..<((index + 1) * o)]))
                let problem: String? =
                    Int(counts[index]) != tokens[index].count
                        ? "\(nTokens) is \(counts[index]) but \(tokenIDs) has \(tokens[index].count) tokens"
                    : !(-1..<shape.options).contains(sample.label)
                        ? "\(label) is \(sample.label), not an option index or -1"
                    : !tokens[index].indices.contains(sample.anchor)
                        ? "\(anchor) is \(sample.anchor), outside the prompt's \(tokens[index].count) tokens" : nil
                if let problem { throw RunStoreError(path, "sample \(index): \(problem)") }
                return sample
            }
        }

        func readComplete() throws -> [Bool] {
            try self[complete].read(as: UInt8.self).map { $0 != 0 }
        }
    }
}
