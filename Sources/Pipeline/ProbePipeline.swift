// A whole probe as one library call: dataset -> prompts and tokens -> one forward pass per sample
// -> rows of the run file -> head tables. `qkprobe probe` is this plus argument parsing and printing.
import Foundation
import LogicTasks
import ModelFormats
import Probe
import Reports
import RunStore
import Tokenizers
import Transformer

/// How to probe: everything but the model, the dataset and the output file.
public struct ProbeSettings: Sendable {
    /// q and k before (the paper's choice) or after rotary embedding.
    public var rope: QKRope
    public var scale: ScoreScale
    /// nil: the default template, or a prompt file's own prompts.
    public var template: PromptTemplate?
    /// nil: `.marked` for a template with `{anchor}`, else `.beforeCue` (the paper's).
    public var anchorRule: AnchorRule?
    /// The text the answer follows; the anchor rule looks before its last occurrence.
    public var answerCue: String
    /// Wrap each prompt in the model's chat template.
    public var chat: Bool
    /// Solved demonstrations before each prompt, drawn from `shotsFrom`.
    public var shots: Int
    public var shotsFrom: URL?
    /// Seeds the stratified sample and the demonstrations' draw.
    public var seed: Int
    public var geometry: QKGeometry
    public var optionToken: OptionTokenPolicy
    /// Also store the option queries and anchor keys.
    public var saveActivations: Bool
    /// Probe only the first `limit` samples ...
    public var limit: Int?
    /// ... or a stratified random sample of this many (label x steps x distractors x the source's groups).
    public var sample: Int?
    /// Probe only this shard of the (limited) rows; `qkprobe merge` joins the shards.
    public var shard: Shard?
    /// Worker threads; nil: the run's own count on resume, else every core. Recorded in the run.
    public var threads: Int?

    public init(rope: QKRope = .pre, scale: ScoreScale = .none, template: PromptTemplate? = nil,
                anchorRule: AnchorRule? = nil, answerCue: String = AnswerCue.default, chat: Bool = false,
                shots: Int = 0, shotsFrom: URL? = nil, seed: Int = 0, geometry: QKGeometry = .options,
                optionToken: OptionTokenPolicy = .exact, saveActivations: Bool = false, limit: Int? = nil,
                sample: Int? = nil, shard: Shard? = nil, threads: Int? = nil) {
        self.rope = rope
        self.scale = scale
        self.template = template
        self.anchorRule = anchorRule
        self.answerCue = answerCue
        self.chat = chat
        self.shots = shots
        self.shotsFrom = shotsFrom
        self.seed = seed
        self.geometry = geometry
        self.optionToken = optionToken
        self.saveActivations = saveActivations
        self.limit = limit
        self.sample = sample
        self.shard = shard
        self.threads = threads
    }

    /// The anchor rule in force: the one asked for, or the template's default.
    public var resolvedAnchorRule: AnchorRule {
        anchorRule ?? (template?.marksAnchor == true ? .marked : .beforeCue)
    }
}

/// Where a running probe stands, reported once when the run file is open and after every row.
public struct ProbeProgress: Sendable {
    /// Rows in the run.
    public let total: Int
    /// Rows complete in the file (by this call or an earlier one).
    public let complete: Int
    /// Rows this call has computed.
    public let computed: Int
    /// This call created the file (true on a resume that found no file to continue).
    public let createdFile: Bool
}

/// What a finished probe did.
public struct ProbeOutcome: Sendable {
    public let output: URL
    public let samples: Int
    /// Rows computed by this call; the rest were complete already (a resume).
    public let computed: Int
    public let seconds: Double
    /// The head tables over every complete, labelled row, as written into the file.
    public let report: HeadReport

    /// Samples per second over this call's work.
    public var samplesPerSecond: Double { seconds > 0 ? Double(computed) / seconds : 0 }
}

/// A probe of one model on one dataset, prepared and ready to run into a run file.
///
/// ```swift
/// let model = try LoadedModel(path: nil)                       // the default model
/// let probe = try ProbePipeline(model: model, dataset: URL(fileURLWithPath: "datasets/logic-test.jsonl"))
/// let outcome = try probe.run(output: URL(fileURLWithPath: "out/test.h5"))
/// print(outcome.report.render(.table, top: 5))
/// ```
///
/// `init` loads the dataset and tokenizes every sample, so every problem with the input (a
/// prompt longer than the context, an option that is not one token) shows before a file is
/// written. `run` opens the run file once, scores the rows not yet written, then writes the head
/// tables computed from every complete row in the file.
public struct ProbePipeline {
    public let model: LoadedModel
    /// The dataset as given (a file or a folder): errors and the run's `dataset_sha256` name it.
    public let datasetURL: URL
    public let dataset: LogicDataset
    public let settings: ProbeSettings
    /// How each sample became its prompt (chat template and demonstrations resolved).
    public let prompt: PromptSettings
    /// Which rows of the dataset the run holds (before sharding), and what to tell the user about them.
    public let selection: SampleSelection
    public let warnings: [String]
    /// The rows this run holds: the chosen samples, or the shard's share of them.
    public let samples: [LogicSample]
    public let prepared: [PreparedSample]
    /// The shard of the whole (limited) run these rows are, if any.
    public let shard: RunShard?
    /// The demonstrations' source: its name and sha256 (empty without shots).
    private let shotsSource: (name: String, sha256: String)

    /// Loads `dataset` (in `format`, or the format its content shows) and prepares every sample.
    public init(model: LoadedModel, dataset url: URL, format: DatasetFormat? = nil,
                settings: ProbeSettings = ProbeSettings()) throws {
        let dataset = try (format ?? DatasetFormat.detect(url)).load(url)
        try self.init(model: model, dataset: dataset, from: url, settings: settings)
    }

    /// Prepares the samples of a dataset already loaded from `url` (the run records `url`'s
    /// sha256 as the dataset's).
    public init(model: LoadedModel, dataset: LogicDataset, from url: URL, settings: ProbeSettings = ProbeSettings()) throws {
        self.model = model
        datasetURL = url
        self.dataset = dataset
        self.settings = settings
        let config = model.transformer.config
        if settings.rope == .post, !model.transformer.capabilities.hasRotaryEmbedding {
            throw ProbeError("\(model.path): \(config.architecture) has no rotary embedding (learned positions), so there is no post-rotary q and k; use --rope pre")
        }
        var fewShot: FewShot?
        var shotsSource = (name: "", sha256: "")
        if settings.shots > 0 {
            guard let shotsURL = settings.shotsFrom else { throw ProbeError("\(settings.shots) shots need a dataset to draw them from") }
            let pool = try DatasetFormat.detect(shotsURL).load(shotsURL)
            fewShot = try FewShot(pool: pool.samples, count: settings.shots, seed: UInt64(settings.seed), source: shotsURL.path)
            shotsSource = (pool.name, try datasetDigest(shotsURL))
        }
        let prompt = PromptSettings(
            template: settings.template, anchorRule: settings.resolvedAnchorRule, answerCue: settings.answerCue,
            optionPolicy: settings.optionToken, chat: settings.chat ? try ChatTemplate(model: model.opened) : nil,
            fewShot: fewShot, geometry: settings.geometry)
        self.prompt = prompt
        self.shotsSource = shotsSource

        let chosen = dataset.chosenRows(sample: settings.sample, limit: settings.limit, seed: UInt64(settings.seed))
        selection = chosen.selection
        warnings = chosen.warning.map { ["\(url.path): \($0)"] } ?? []
        let wholeRun = chosen.indices.map { dataset.samples[$0] }
        shard = try settings.shard.map { try RunShard(shard: $0, totalRows: wholeRun.count, datasetRows: dataset.samples.count) }
        samples = shard.map { $0.rows.map { wholeRun[$0] } } ?? wholeRun
        let bound = PromptBound(tokenizer: model.tokenizer, contextLength: config.contextLength)
        prepared = try samples.map { sample in
            do {
                return try Self.prepare(sample, prompt: prompt, tokenizer: model.tokenizer, bound: bound)
            } catch {
                // Every message names the dataset file, whichever step found the problem.
                let message = "\(error)"
                if message.hasPrefix(url.path) { throw error }
                throw ProbeError("\(url.path): \(message)")
            }
        }
    }

    private static func prepare(_ sample: LogicSample, prompt: PromptSettings, tokenizer: Tokenizer,
                                bound: PromptBound) throws -> PreparedSample {
        // A prompt too long for the context is refused before it is tokenized: a long enough
        // text would otherwise take gigabytes of tokens first. (Demonstrations and a chat
        // template only add to it.)
        let bytes = try sample.promptText(with: prompt.template).utf8.count
        if bytes > bound.maximumPromptBytes {
            throw ProbeError("sample \(sample.id): its prompt of \(bytes) bytes cannot fit the model's context of "
                             + "\(bound.contextLength) tokens (no token covers more than \(bound.longestTokenBytes) bytes)")
        }
        // The run file stores steps and distractors as int16, -1 for unknown.
        for (name, value) in [("steps", sample.steps), ("distractors", sample.distractors)] {
            if let value, !(0...Int(Int16.max)).contains(value) {
                throw ProbeError("sample \(sample.id): \(name) is \(value), outside 0...\(Int16.max)")
            }
        }
        let prepared = try PreparedSample(sample, settings: prompt, tokenizer: tokenizer)
        // The options take a position each in the pass (as branches, side by side).
        guard prepared.tokenIDs.count + prepared.optionIDs.count <= bound.contextLength else {
            throw ProbeError("sample \(sample.id): \(prepared.tokenIDs.count) prompt tokens and \(prepared.optionIDs.count) "
                             + "options exceed the model's context of \(bound.contextLength) tokens")
        }
        return prepared
    }

    /// The run's definition: header, options and samples, for `threads` worker threads.
    public func spec(threads: Int) throws -> RunSpec {
        let config = model.transformer.config
        let geometryName: String, mcqaKey: String
        switch settings.geometry {
        case .options: (geometryName, mcqaKey) = ("options", "")
        case .multipleChoice(let key): (geometryName, mcqaKey) = ("mcqa", key.rawValue)
        }
        let header = RunHeader(
            toolVersion: qkprobeVersion, modelName: config.name, modelPath: model.path,
            modelSHA256: try model.opened.location.sha256(), architecture: config.architecture.rawValue,
            nLayers: config.nLayers, nHeads: config.nHeads, nKVHeads: config.nKVHeads, dHead: config.dHead,
            datasetName: dataset.name, datasetSHA256: try datasetDigest(datasetURL),
            template: settings.template?.text ?? (samples.first?.prompt != nil ? "{prompt}" : PromptTemplate.defaultText),
            anchorRule: settings.geometry == .options ? prompt.anchorRule.rawValue : "last-token",
            answerCue: settings.answerCue, chatTemplate: prompt.chat?.family.rawValue ?? "none",
            shots: settings.shots, shotsDataset: shotsSource.name, shotsSHA256: shotsSource.sha256, shotsSeed: settings.seed,
            geometry: geometryName, mcqaKey: mcqaKey,
            qkRope: settings.rope, qkScale: settings.scale.factor(dHead: config.dHead), threads: threads,
            weights: model.transformer.weightStorage.rawValue,
            bosTokenID: model.tokenizer.addsBOSToken ? model.tokenizer.bosTokenID : nil, sampleSelection: selection.summary,
            qkScaleSetting: settings.scale.rawValue, optionTokenPolicy: settings.optionToken.rawValue)
        return RunSpec(
            header: header, options: LogicDataset.sharedOptions(samples.map(\.options)),
            samples: zip(samples, prepared).map { sample, prepared in
                SampleInfo(id: sample.id, label: sample.label ?? -1, steps: sample.steps ?? -1,
                           distractors: sample.distractors ?? -1, tokenIDs: prepared.tokenIDs.map(Int32.init),
                           anchor: prepared.anchor, options: sample.options, optionIDs: prepared.optionIDs.map(Int32.init),
                           shotIDs: prepared.shotIDs, keyPositions: prepared.keyPositions.map(Int32.init),
                           group: sample.sourceGroup)
            },
            saveActivations: settings.saveActivations, shard: shard)
    }

    /// Runs the probe into the run file at `output`: creates it (or, per `policy`, resumes or
    /// replaces it), scores every row not yet written, then writes the head tables. Rows are
    /// written as they finish, so a killed run keeps them and `policy: .resume` completes it.
    /// `progress` is called once the file is open and after every row.
    @discardableResult
    public func run(output: URL, ifExists policy: ExistingRunPolicy = .refuse,
                    progress: (ProbeProgress) -> Void = { _ in }) throws -> ProbeOutcome {
        let start = Date()
        try OutputGuard.ensureNotAnInput(output, inputs: [datasetURL, model.opened.location.url] + [settings.shotsFrom].compactMap { $0 })
        // A resume reproduces the first run bit for bit only with its thread count, so it is the default.
        let existing = policy == .resume && FileManager.default.fileExists(atPath: output.path)
            ? try RunFile.openExisting(at: output) : nil
        let threads = settings.threads ?? existing?.header.threads ?? Transformer.threadCount
        Transformer.setThreadCount(threads)
        let spec = try spec(threads: threads)
        let run: RunFile
        if let existing {
            try existing.ensureResumable(spec)
            run = existing
        } else {
            run = try RunFile.open(at: output, spec: spec, ifExists: policy)
        }

        let pending = run.pendingRows
        let total = samples.count
        progress(ProbeProgress(total: total, complete: total - pending.count, computed: 0, createdFile: existing == nil))
        let prober = QKProber(model: model.transformer, rope: settings.rope, scale: settings.scale)
        for (index, row) in pending.enumerated() {
            let scores = try prober.score(prepared[row])
            let activations = settings.saveActivations
            try run.write(row: row, qk: scores.qk, modelLogits: scores.modelLogits,
                          queries: activations ? scores.queries : nil, keys: activations ? scores.keys : nil)
            progress(ProbeProgress(total: total, complete: total - pending.count + index + 1, computed: index + 1,
                                   createdFile: existing == nil))
        }

        // Tables come from the file, so a resumed run counts the rows of earlier processes too.
        let report = HeadReport(run: try run.reader())
        try run.writeHeadTables(HeadTables(report.tables, stepsValues: run.stepsValues,
                                           distractorsValues: run.distractorsValues))
        try run.close()
        return ProbeOutcome(output: output, samples: total, computed: pending.count,
                            seconds: Date().timeIntervalSince(start), report: report)
    }
}

/// The version run files record as `tool_version` (a resume must match it).
public let qkprobeVersion = "0.1.0"

/// The longest prompt, in UTF-8 bytes, that could still fit the context: no token covers more
/// bytes of the text than the longest spelling in the vocabulary (byte-level and "▁" spellings
/// are at least as long as the bytes they stand for).
struct PromptBound {
    let contextLength: Int
    let longestTokenBytes: Int
    var maximumPromptBytes: Int { contextLength.multipliedReportingOverflow(by: longestTokenBytes).partialValue }

    init(tokenizer: Tokenizer, contextLength: Int) {
        self.contextLength = contextLength
        var longest = 1
        for id in 0..<tokenizer.vocabSize {
            if let bytes = tokenizer.tokenString(id)?.utf8.count, bytes > longest { longest = bytes }
        }
        longestTokenBytes = longest
    }
}

/// The SHA-256 of a dataset file; for a folder, of the `sha256sum`-style listing of its files
/// (relative paths in byte order), so renaming or editing any file changes it.
public func datasetDigest(_ url: URL) throws -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
        return try FileDigest.sha256(of: url)
    }
    let root = url.standardizedFileURL.path
    let files = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? [])
        .filter { path in
            var directory: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &directory) && !directory.boolValue
        }
        .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    let listing = try files.map { "\(try FileDigest.sha256(of: URL(fileURLWithPath: root + "/" + $0)))  \($0)\n" }.joined()
    return Data(listing.utf8).withUnsafeBytes { FileDigest.sha256(of: $0) }
}
