import ArgumentParser
import Foundation
import LogicTasks
import Pipeline
import Probe
import Reports
import Transformer

extension QKRope: ExpressibleByArgument {}
extension ScoreScale: ExpressibleByArgument {}
extension OptionTokenPolicy: ExpressibleByArgument {}

/// `--dataset-format auto` or a named dataset format.
enum DatasetFormatChoice: String, CaseIterable, ExpressibleByArgument {
    case auto, prompts, pararule, multilogieval, prontoqa

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
            (the token ending the question line), the options' logits at the last prompt position (the \
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

    @Option(name: [.short, .long], help: "The HDF5 run file to write.")
    var output: String

    @Option(help: "q and k before (pre, the paper's choice) or after (post) rotary embedding.")
    var rope: QKRope = .pre

    @Option(help: "Scale the dot product: none, or sqrt for 1/sqrt(d_head) as attention does.")
    var scale: ScoreScale = .none

    @Flag(help: "Also store the option queries [N, O, L, H, Dh] and anchor keys [N, L, Hkv, Dh].")
    var saveActivations = false

    @Option(parsing: .unconditional, help: "Probe only the first N samples.")
    var limit: Int?

    @Flag(help: "Continue the run in the output file (made with the same settings); a missing file starts a new run, and says so.")
    var resume = false

    @Flag(help: "Replace an existing output file (never one of the inputs).")
    var force = false

    @Option(help: weightStorageHelp)
    var weights: WeightStorage = .stored

    @Option(name: .customLong("option-token"), help: "For an option that is several tokens: exact (error), first or last token.")
    var optionToken: OptionTokenPolicy = .exact

    @Option(parsing: .unconditional, help: "Heads to list at the end.")
    var top = 10

    @Option(help: "table, or json for one summary object.")
    var format: OutputFormat = .table

    func validate() throws {
        if resume && force { throw ValidationError("--resume and --force exclude each other") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, not \(limit)") }
        if top < 0 { throw ValidationError("--top must not be negative") }
    }

    func run() throws {
        let outputURL = URL(fileURLWithPath: output)
        let interrupt = InterruptReport(output: outputURL.path)
        let datasetURL = URL(fileURLWithPath: dataset)
        let modelPath = try modelOptions.resolvedPath()
        try OutputGuard.ensureNotAnInput(outputURL, inputs: [datasetURL, URL(fileURLWithPath: modelPath)]
                                         + (template.map { [URL(fileURLWithPath: $0)] } ?? []))
        let settings = ProbeSettings(
            rope: rope, scale: scale,
            template: try template.map { try PromptTemplate(contentsOf: URL(fileURLWithPath: $0)) },
            optionToken: optionToken, saveActivations: saveActivations, limit: limit, threads: modelOptions.threads)
        let model = try LoadedModel(path: modelPath, storage: weights)
        let pipeline = try ProbePipeline(model: model, dataset: datasetURL, format: datasetFormat.format, settings: settings)

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

