import ArgumentParser
import Foundation
import LogicTasks
import Pipeline
import Probe
import Reports
import RunStore
import Transformer

extension QKRope: ExpressibleByArgument {}
extension ScoreScale: ExpressibleByArgument {}
extension OptionTokenPolicy: ExpressibleByArgument {}
extension AnchorRule: ExpressibleByArgument {}
extension MCQAKey: ExpressibleByArgument {}

/// `--geometry`: which q meets which k.
enum GeometryChoice: String, CaseIterable, ExpressibleByArgument {
    case options, mcqa
}

/// `--dataset-format auto` or a named dataset format.
enum DatasetFormatChoice: String, CaseIterable, ExpressibleByArgument {
    case auto, prompts, pararule, multilogieval, prontoqa, multiplechoice

    /// nil for auto: the format is told from the content.
    var format: DatasetFormat? { self == .auto ? nil : DatasetFormat(rawValue: rawValue)! }

    func resolve(for url: URL) throws -> DatasetFormat {
        try format ?? DatasetFormat.detect(url)
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
            and --resume completes it to the same result. SIGINT or SIGTERM stops the run at once and \
            says how many rows are complete. The work itself is the library's `ProbePipeline`.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "The dataset: a file or a folder.")
    var dataset: String

    @Option(name: .customLong("dataset-format"), help: "The dataset's format; auto tells it from the content.")
    var datasetFormat: DatasetFormatChoice = .auto

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

    @Option(parsing: .unconditional, help: "Put K solved demonstrations before each prompt, label-balanced, never the sample itself (needs --shots-from).")
    var shots = 0

    @Option(name: .customLong("shots-from"), help: "The dataset the demonstrations are drawn from (format detected).")
    var shotsFrom: String?

    @Option(parsing: .unconditional, help: "Seed of --sample and of the demonstrations' draw (each sample's draw depends on the seed and its id only).")
    var seed = 0

    @Option(help: "options: q at each option token . k at the anchor (arXiv 2502.17017); mcqa: q at the last token . k at each option's line \"A. ...\" (arXiv 2410.02343).")
    var geometry: GeometryChoice = .options

    @Option(name: .customLong("mcqa-key"), help: "With --geometry mcqa, the key's token on each option's line: eol (its newline), letter or period.")
    var mcqaKey: MCQAKey = .eol

    @Option(name: [.short, .long], help: "The HDF5 run file to write.")
    var output: String

    @Option(help: "q and k before (pre, the paper's choice) or after (post) rotary embedding.")
    var rope: QKRope = .pre

    @Option(help: "Scale the dot product: none, or sqrt for 1/sqrt(d_head) as attention does.")
    var scale: ScoreScale = .none

    @Flag(help: "Also store the option queries [N, O, L, H, Dh] and anchor keys [N, L, Hkv, Dh].")
    var saveActivations = false

    @OptionGroup var rowOptions: RowOptions

    @Option(help: ArgumentHelp("Probe only shard I of N: rows I-1, I-1+N, I-1+2N, ... of the run; qkprobe merge joins the shards.", valueName: "I/N"),
            transform: { try Shard(parsing: $0) })
    var shard: Shard?

    @Flag(help: "Continue the run in the output file (made with the same settings); a missing file starts a new run, and says so.")
    var resume = false

    @Flag(help: "Replace an existing output file (never one of the inputs).")
    var force = false

    @Option(help: weightStorageHelp)
    var weights: WeightStorage = .automatic

    @Option(name: .customLong("option-token"), help: "For an option that is several tokens: exact (error), first or last token.")
    var optionToken: OptionTokenPolicy = .exact

    @Option(parsing: .unconditional, help: "Heads to list at the end.")
    var top = 10

    @Option(help: "table, or json for one summary object.")
    var format: OutputFormat = .table

    func validate() throws {
        if resume && force { throw ValidationError("--resume and --force exclude each other") }
        if top < 0 { throw ValidationError("--top must not be negative") }
        if answerCue.isEmpty { throw ValidationError("--answer-cue must not be empty") }
        if shots < 0 { throw ValidationError("--shots must not be negative") }
        if seed < 0 { throw ValidationError("--seed must not be negative") }
        if shots > 0 && shotsFrom == nil { throw ValidationError("--shots needs --shots-from FILE") }
        if shots == 0 && shotsFrom != nil { throw ValidationError("--shots-from needs --shots K") }
        if geometry == .mcqa && saveActivations {
            throw ValidationError("--save-activations is not available with --geometry mcqa (its keys are per option)")
        }
    }

    func run() throws {
        let outputURL = URL(fileURLWithPath: output)
        let interrupt = InterruptReport(output: outputURL.path)
        let datasetURL = URL(fileURLWithPath: dataset)
        let modelPath = try modelOptions.resolvedPath()
        let shotsURL = shotsFrom.map { URL(fileURLWithPath: $0) }
        try OutputGuard.ensureNotAnInput(outputURL, inputs: [datasetURL, URL(fileURLWithPath: modelPath)]
                                         + [template, shotsFrom].compactMap { $0.map { URL(fileURLWithPath: $0) } })
        let settings = ProbeSettings(
            rope: rope, scale: scale,
            template: try template.map { try PromptTemplate(contentsOf: URL(fileURLWithPath: $0), cue: answerCue) },
            anchorRule: anchor, answerCue: answerCue, chat: chat, shots: shots, shotsFrom: shotsURL, seed: seed,
            geometry: geometry == .mcqa ? .multipleChoice(mcqaKey) : .options,
            optionToken: optionToken, saveActivations: saveActivations, limit: rowOptions.limit, sample: rowOptions.sample, shard: shard, threads: modelOptions.threads)
        let model = try LoadedModel(path: modelPath, storage: weights)
        let pipeline = try ProbePipeline(model: model, dataset: datasetURL, format: datasetFormat.format, settings: settings)
        for warning in pipeline.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }

        var bar: Progress?
        let outcome = try pipeline.run(output: outputURL, ifExists: resume ? .resume : force ? .overwrite : .refuse) { state in
            interrupt.update(state)
            if bar == nil {
                if resume && state.createdFile {
                    FileHandle.standardError.write(Data("probe: \(outputURL.path) did not exist, so --resume started a new run\n".utf8))
                }
                bar = Progress(total: state.total, alreadyDone: state.complete)
            } else {
                bar?.advance()
            }
        }
        interrupt.finished()

        switch format {
        case .json:
            let summary = ProbeSummary(
                output: outputURL.path, samples: outcome.samples, computed: outcome.computed,
                seconds: outcome.seconds, samplesPerSecond: outcome.samplesPerSecond, report: outcome.report, top: top)
            print(try summary.jsonString())
        case .table:
            print(outcome.report.render(.table, top: top), terminator: "")
            print("wrote \(outputURL.path): \(outcome.computed) samples computed, \(outcome.samples - outcome.computed) resumed, "
                  + String(format: "%.2f samples/s", outcome.samplesPerSecond))
        }
    }
}

/// The `--format json` summary of `qkprobe probe`.
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

