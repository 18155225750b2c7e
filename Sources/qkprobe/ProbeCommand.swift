import ArgumentParser
import Foundation
import LogicTasks
import ModelFormats
import Probe
import Reports
import RunStore
import Transformer

extension RotaryChoice: ExpressibleByArgument {}
extension ScoreScale: ExpressibleByArgument {}
extension OptionTokenPolicy: ExpressibleByArgument {}
extension AnchorRule: ExpressibleByArgument {}
extension MCQAKey: ExpressibleByArgument {}

/// `--geometry`: which q meets which k.
enum GeometryChoice: String, CaseIterable, ExpressibleByArgument {
    case options, mcqa
}

/// `--format auto` or a named dataset format.
enum DatasetFormatChoice: String, CaseIterable, ExpressibleByArgument {
    case auto, prompts, pararule, multilogieval, prontoqa, multiplechoice

    func resolve(for url: URL) throws -> DatasetFormat {
        self == .auto ? try DatasetFormat.detect(url) : DatasetFormat(rawValue: rawValue)!
    }
}

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Compute the QK-score of every head on every sample of a dataset, with the model's own answer beside it.",
        discussion: """
            Each sample is one forward pass: the prompt, with every answer option as a branch after it \
            (the option sees the prompt and itself, as if appended alone). Kept: the key at the anchor \
            (by default the token just before the answer cue, the paper's choice; see --anchor), the options' logits at the last prompt position (the \
            model's own answer) and the query at each option. Head (l, h) scores an option by \
            q(l, h)·k(l, h / (H / Hkv)) and picks the higher score (the first option on a tie).

            Rows are written to the HDF5 run file as they finish; a killed run keeps every finished row \
            and --resume completes it to the same result.
            """)

    @Option(help: "A GGUF file or a Hugging Face model folder (default: the default model).")
    var model: String?

    @Option(help: "The dataset: a file or a folder.")
    var dataset: String

    @Option(help: "The dataset's format; auto tells it from the content.")
    var format: DatasetFormatChoice = .auto

    @Option(help: "A template file with {context} and {question} (default: \"{context}\\nQuestion: {question}\\nAnswer:\"; plain prompts are used as they are).")
    var template: String?

    @Option(help: ArgumentHelp(
        "The anchor: before-cue (the token just before the answer cue, the paper's), question-end (the token ending the question text) or marked (the template's {anchor}).",
        discussion: "Default: marked for a template with {anchor}, before-cue otherwise."))
    var anchor: AnchorRule?

    @Option(name: .customLong("answer-cue"), help: "The text the answer follows; the anchor is found before its final occurrence.")
    var answerCue: String = AnswerCue.default

    @Flag(help: "Wrap each prompt in the model's chat template (ChatML, Llama 3, Mistral, Gemma): demonstrations, problem and cue are the user's message; the options follow the assistant's turn.")
    var chat = false

    @Option(help: "Put K solved demonstrations before each prompt, label-balanced, never the sample itself (needs --shots-from).")
    var shots = 0

    @Option(name: .customLong("shots-from"), help: "The dataset the demonstrations are drawn from (format detected).")
    var shotsFrom: String?

    @Option(help: "Seed of the demonstrations' draw (each sample's draw depends on the seed and its id only).")
    var seed = 0

    @Option(help: "options: q at each option token . k at the anchor (arXiv 2502.17017); mcqa: q at the last token . k at each option's line \"A. ...\" (arXiv 2410.02343).")
    var geometry: GeometryChoice = .options

    @Option(name: .customLong("mcqa-key"), help: "With --geometry mcqa, the key's token on each option's line: eol (its newline), letter or period.")
    var mcqaKey: MCQAKey = .eol

    @Option(name: [.short, .long], help: "The HDF5 run file to write.")
    var output: String

    @Option(help: "q and k before (pre, the paper's choice) or after (post) rotary embedding.")
    var rope: RotaryChoice = .pre

    @Option(help: "Scale the dot product: none, or sqrt for 1/sqrt(d_head) as attention does.")
    var scale: ScoreScale = .none

    @Flag(help: "Also store the option queries [N, O, L, H, Dh] and anchor keys [N, L, Hkv, Dh].")
    var saveActivations = false

    @Option(help: "Probe only the first N samples.")
    var limit: Int?

    @Option(help: ArgumentHelp("Probe only shard I of N: rows I-1, I-1+N, I-1+2N, ... of the run; qkprobe merge joins the shards.", valueName: "I/N"),
            transform: { try Shard(parsing: $0) })
    var shard: Shard?

    @Flag(help: "Continue the run in an existing output file (it must have been made with the same settings).")
    var resume = false

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Option(help: "Threads to share the work over (default: every core; with --resume, the run's own). Recorded in the run.")
    var threads: Int?

    @Option(help: weightStorageHelp)
    var weights: WeightStorage = .stored

    @Option(name: .customLong("option-token"), help: "For an option that is several tokens: exact (error), first or last token.")
    var optionToken: OptionTokenPolicy = .exact

    @Option(help: "Heads to list at the end.")
    var top = 10

    @Flag(help: "Print a JSON summary object at the end instead of the table.")
    var json = false

    func validate() throws {
        if resume && force { throw ValidationError("--resume and --force exclude each other") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if answerCue.isEmpty { throw ValidationError("--answer-cue must not be empty") }
        if shots < 0 { throw ValidationError("--shots must not be negative") }
        if geometry == .mcqa && saveActivations {
            throw ValidationError("--save-activations is not available with --geometry mcqa (its keys are per option)")
        }
        if seed < 0 { throw ValidationError("--seed must not be negative") }
        if shots > 0 && shotsFrom == nil { throw ValidationError("--shots needs --shots-from FILE") }
        if shots == 0 && shotsFrom != nil { throw ValidationError("--shots-from needs --shots K") }
    }

    func run() throws {
        let datasetURL = URL(fileURLWithPath: dataset)
        let loadedDataset = try format.resolve(for: datasetURL).load(datasetURL)
        let wholeRun = Array(loadedDataset.samples.prefix(limit ?? .max))
        let runShard = try shard.map { try RunShard(shard: $0, totalRows: wholeRun.count, datasetRows: loadedDataset.samples.count) }
        let samples = runShard.map { $0.rows.map { wholeRun[$0] } } ?? wholeRun
        let promptTemplate = try template.map { try PromptTemplate(contentsOf: URL(fileURLWithPath: $0), cue: answerCue) }
        let anchorRule = anchor ?? (promptTemplate?.marksAnchor == true ? .marked : .beforeCue)
        var fewShot: FewShot?
        var shotsName = "", shotsDigest = ""
        if shots > 0, let shotsFrom {
            let shotsURL = URL(fileURLWithPath: shotsFrom)
            let pool = try DatasetFormatChoice.auto.resolve(for: shotsURL).load(shotsURL)
            fewShot = try FewShot(pool: pool.samples, count: shots, seed: UInt64(seed), source: shotsURL.path)
            shotsName = pool.name
            shotsDigest = try datasetDigest(shotsURL)
        }

        let outputURL = URL(fileURLWithPath: output)
        let loaded = try LoadedModel(path: model, storage: weights)
        // A resume reproduces the first run bit for bit only with its thread count, so it is the default.
        if let threads = threads ?? resumedThreadCount(outputURL) { Transformer.setThreadCount(threads) }
        let config = loaded.transformer.config
        let chatTemplate = try chat ? ChatTemplate(model: loaded.opened) : nil
        let settings = PromptSettings(template: promptTemplate, anchorRule: anchorRule, answerCue: answerCue,
                                      optionPolicy: optionToken, chat: chatTemplate, fewShot: fewShot,
                                      geometry: geometry == .mcqa ? .multipleChoice(mcqaKey) : .options)
        if rope == .post, !loaded.transformer.capabilities.hasRotaryEmbedding {
            throw ProbeError("\(loaded.path): \(config.architecture) has no rotary embedding (learned positions), so there is no post-rotary q and k; use --rope pre")
        }
        let prepared = try samples.map { sample in
            let prepared = try PreparedSample(sample, settings: settings, tokenizer: loaded.tokenizer)
            // The options take a position each in the pass (as branches, side by side).
            guard prepared.tokenIDs.count + prepared.optionIDs.count <= config.contextLength else {
                throw ProbeError("sample \(sample.id): \(prepared.tokenIDs.count) prompt tokens and \(prepared.optionIDs.count) options exceed the model's context of \(config.contextLength)")
            }
            return prepared
        }

        let header = RunHeader(
            toolVersion: QKProbe.configuration.version, modelName: config.name, modelPath: loaded.path,
            modelSHA256: try loaded.opened.location.sha256(), architecture: config.architecture.rawValue,
            nLayers: config.nLayers, nHeads: config.nHeads, nKVHeads: config.nKVHeads, dHead: config.dHead,
            datasetName: loadedDataset.name, datasetSHA256: try datasetDigest(datasetURL),
            template: promptTemplate?.text ?? (wholeRun.first?.prompt != nil ? "{prompt}" : PromptTemplate.defaultText),
            anchorRule: geometry == .mcqa ? "last-token" : anchorRule.rawValue, answerCue: answerCue, chatTemplate: chatTemplate?.family.rawValue ?? "none",
            shots: shots, shotsDataset: shotsName, shotsSHA256: shotsDigest, shotsSeed: seed,
            geometry: geometry.rawValue, mcqaKey: geometry == .mcqa ? mcqaKey.rawValue : "",
            qkRope: rope == .pre ? .pre : .post, qkScale: scale.factor(dHead: config.dHead),
            threads: Transformer.threadCount, weights: loaded.transformer.weightStorage.rawValue,
            bosTokenID: loaded.tokenizer.addsBOSToken ? loaded.tokenizer.bosTokenID : nil)
        let spec = RunSpec(
            header: header, options: LogicDataset.sharedOptions(samples.map(\.options)),
            samples: zip(samples, prepared).map { sample, prepared in
                SampleInfo(id: sample.id, label: sample.label ?? -1, steps: sample.steps ?? -1,
                           distractors: sample.distractors ?? -1, tokenIDs: prepared.tokenIDs.map(Int32.init),
                           anchor: prepared.anchor, options: sample.options, optionIDs: prepared.optionIDs.map(Int32.init),
                           shotIDs: prepared.shotIDs, keyPositions: prepared.keyPositions.map(Int32.init))
            },
            saveActivations: saveActivations, shard: runShard)

        let run = try RunFile.open(at: outputURL, spec: spec, ifExists: resume ? .resume : force ? .overwrite : .refuse)
        let pending = run.pendingRows
        let prober = QKProber(model: loaded.transformer, rotary: rope, scale: scale)
        var progress = Progress(total: samples.count, alreadyDone: samples.count - pending.count)
        for row in pending {
            let scores = try prober.score(prepared[row])
            try run.write(row: row, qk: scores.qk, modelLogits: scores.modelLogits,
                          queries: saveActivations ? scores.queries : nil, keys: saveActivations ? scores.keys : nil)
            progress.advance()
        }
        try run.close()

        // Tables come from the file, so a resumed run counts the rows of earlier processes too.
        let report = HeadReport(run: try RunReader(url: outputURL))
        let finished = try RunFile.open(at: outputURL, spec: spec, ifExists: .resume)
        try finished.writeHeadTables(HeadTables(report.tables, stepsValues: finished.stepsValues,
                                                distractorsValues: finished.distractorsValues))
        try finished.close()

        if json {
            let summary = ProbeSummary(
                output: outputURL.path, samples: samples.count, computed: pending.count,
                seconds: progress.elapsed, samplesPerSecond: progress.rate, report: report, top: top)
            print(try summary.jsonString())
        } else {
            print(report.render(.table, top: top), terminator: "")
            print("wrote \(outputURL.path): \(pending.count) samples computed, \(samples.count - pending.count) resumed, "
                  + String(format: "%.2f samples/s", progress.rate))
        }
    }
}

extension ProbeCommand {
    /// The thread count recorded in the run being resumed, if there is one.
    private func resumedThreadCount(_ url: URL) -> Int? {
        guard resume, FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try? RunReader(url: url).header.threads
    }
}

/// The `--json` summary of `qkprobe probe`.
struct ProbeSummary: Encodable {
    struct Head: Encodable {
        let name: String
        let accuracy: Double?
    }

    let output: String
    let samples: Int
    let computed: Int
    let seconds: Double
    let samplesPerSecond: Double
    let labelled: Int
    let baselineAccuracy: Double?
    let topHeads: [Head]

    init(output: String, samples: Int, computed: Int, seconds: Double, samplesPerSecond: Double, report: HeadReport, top: Int) {
        self.output = output
        self.samples = samples
        self.computed = computed
        self.seconds = seconds
        self.samplesPerSecond = samplesPerSecond
        let document = report.document(top: top)
        labelled = document.nLabelled
        baselineAccuracy = document.baseline
        topHeads = document.top.map { Head(name: $0.name, accuracy: $0.accuracy) }
    }

    enum CodingKeys: String, CodingKey {
        case output, samples, computed, seconds, labelled
        case samplesPerSecond = "samples_per_second", baselineAccuracy = "baseline_accuracy", topHeads = "top_heads"
    }

    func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// The SHA-256 of a dataset file; for a folder, of the `sha256sum`-style listing of its files
/// (relative paths in byte order), so renaming or editing any file changes it.
func datasetDigest(_ url: URL) throws -> String {
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
