import ArgumentParser
import Foundation
import LogicTasks
import Pipeline

struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Generate logic problems, convert public benchmarks, count samples.",
        subcommands: [Generate.self, MultipleChoiceTask.self, Convert.self, Stats.self])
}

extension DatasetCommand {
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a grid of problems with known steps and distractors, labels balanced in every cell.",
            discussion: "Writes prompt JSON Lines; the same options give the same file, byte for byte.")

        @Option(help: "Reasoning depths: a number or a range such as 1-6 (within 1-10).")
        var steps: CountRange = CountRange(1...6)

        @Option(help: "Distractor sentences: a number or a range such as 0-5 (within 0-12).")
        var distractors: CountRange = CountRange(0...5)

        @Option(parsing: .unconditional, help: "Samples per (steps, distractors) cell; even, so that labels balance exactly.")
        var perCell: Int

        @Option(parsing: .unconditional, help: "Seed of the generator.")
        var seed: UInt64

        @Option(help: "Problem family: \(TaskFamily.allCases.map(\.rawValue).joined(separator: ", ")).")
        var family: TaskFamily = .ontology

        @Flag(help: "Keep the problem's sentences in proof order (distractors still go anywhere).")
        var proofOrder = false

        @Option(name: .shortAndLong, help: "Output file (.jsonl).")
        var output: String

        @Flag(help: "Overwrite the output file if it exists.")
        var force = false

        func run() throws {
            let settings = GeneratorSettings(
                family: family, steps: steps.range, distractors: distractors.range, perCell: perCell, seed: seed,
                proofOrder: proofOrder)
            let samples = try LogicGenerator.samples(settings)
            try PromptFile.write(samples, to: URL(fileURLWithPath: output), overwrite: force)
            print("wrote \(samples.count) samples to \(output)")
        }
    }

    struct MultipleChoiceTask: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mcqa",
            abstract: "Generate a synthetic multiple-choice task (taxonomies of invented nouns) as multiple-choice JSON Lines.",
            discussion: "Depths cycle through --steps and the right letter through the positions; the same options give the same file, byte for byte.")

        @Option(help: "Questions to write.")
        var count: Int

        @Option(help: "Hops from the entity to the right choice: a number or a range such as 1-3 (within 1-8).")
        var steps: CountRange = CountRange(1...3)

        @Option(help: "Choices per question (2-6).")
        var choices = 4

        @Option(help: "Seed of the generator.")
        var seed: UInt64

        @Option(name: .shortAndLong, help: "Output file (.jsonl).")
        var output: String

        @Flag(help: "Overwrite the output file if it exists.")
        var force = false

        func run() throws {
            let samples = try MultipleChoice.generate(count: count, steps: steps.range, choices: choices, seed: seed)
            let url = URL(fileURLWithPath: output)
            if !force && FileManager.default.fileExists(atPath: url.path) {
                throw DatasetError(url.path, "already exists (pass --force to overwrite it)")
            }
            try Data(try MultipleChoice.encode(samples).utf8).write(to: url, options: .atomic)
            print("wrote \(samples.count) questions to \(output)")
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert a public benchmark (a file or a folder) to prompt JSON Lines.")

        @Option(name: .customLong("dataset-format"), help: "The benchmark's format: \(SourceFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
        var datasetFormat: SourceFormat

        @Argument(help: "The benchmark file, or a folder to read whole.")
        var path: String

        @Option(name: .shortAndLong, help: "Output file (.jsonl).")
        var output: String

        @Flag(help: "Overwrite the output file if it exists.")
        var force = false

        func run() throws {
            let input = URL(fileURLWithPath: path)
            try OutputGuard.ensureNotAnInput(URL(fileURLWithPath: output), inputs: [input])
            let dataset = try datasetFormat.datasetFormat.load(input)
            try PromptFile.write(dataset.samples, to: URL(fileURLWithPath: output), overwrite: force)
            print("wrote \(dataset.samples.count) samples to \(output)")
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Count samples by steps × distractors × label.")

        @Argument(help: "A dataset file or folder: prompt JSON Lines or a public benchmark.")
        var path: String

        @Option(name: .customLong("dataset-format"), help: "The dataset's format; auto tells it from the content, as probe does.")
        var datasetFormat: DatasetFormatChoice = .auto

        @Option(help: "table, or json for one JSON object.")
        var format: OutputFormat = .table

        func run() throws {
            let url = URL(fileURLWithPath: path)
            let stats = DatasetStats(try datasetFormat.resolve(for: url).load(url))
            print(format == .json ? stats.json.serialized : stats.table, terminator: format == .json ? "\n" : "")
        }
    }
}

/// The public formats `convert` reads.
enum SourceFormat: String, CaseIterable, ExpressibleByArgument {
    case pararule, multilogieval, prontoqa

    var datasetFormat: DatasetFormat {
        switch self {
        case .pararule: .pararule
        case .multilogieval: .multilogieval
        case .prontoqa: .prontoqa
        }
    }
}

/// "3" or "1-6".
struct CountRange: ExpressibleByArgument {
    let range: ClosedRange<Int>

    init(_ range: ClosedRange<Int>) {
        self.range = range
    }

    init?(argument: String) {
        let parts = argument.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let low = Int(parts[0]), let high = Int(parts[parts.count - 1]), low >= 0, low <= high else {
            return nil
        }
        range = low...high
    }

    var defaultValueDescription: String {
        range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)"
    }
}

extension TaskFamily: ExpressibleByArgument {}
extension DatasetFormat: ExpressibleByArgument {}
