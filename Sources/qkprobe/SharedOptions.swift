import ArgumentParser
import Foundation
import LogicTasks
import ModelFormats
import Pipeline
import Transformer

/// What every command that loads a model takes: the model and the threads to run it on.
struct ModelOptions: ParsableArguments {
    /// More threads than this is a mistake, not a setting (each one is a kernel thread per pass).
    static let maximumThreads = 256

    @Option(help: ArgumentHelp("A GGUF file or a Hugging Face model folder (config.json, *.safetensors, tokenizer.json); "
                               + "default: the default model, SmolLM2-135M-Instruct.", valueName: "PATH"))
    var model: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Threads to share the work over, 1-\(maximumThreads) (default: every core).", valueName: "N"))
    var threads: Int?

    func validate() throws {
        if let threads, !(1...Self.maximumThreads).contains(threads) {
            throw ValidationError("--threads must be between 1 and \(Self.maximumThreads), not \(threads)")
        }
    }

    /// The model's path: as given, or the default model's.
    func resolvedPath() throws -> String {
        try model ?? DefaultModel.resolve().path
    }

    /// Sets the thread count (when given) and opens the model with its tokenizer.
    func load() throws -> LoadedModel {
        applyThreads()
        return try LoadedModel(path: model)
    }

    func applyThreads() {
        if let threads { Transformer.setThreadCount(threads) }
    }
}

/// Which rows of a dataset a command runs (probe, ablate, trace --dataset): the first N, or a
/// stratified sample seeded by the command's --seed.
struct RowOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Use only the first N samples (warns when they all have one label; --sample is usually better).")
    var limit: Int?

    @Option(parsing: .unconditional, help: "Use a stratified random sample of N samples: proportional over label x steps x distractors and the source's own groups, seeded by --seed.")
    var sample: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, not \(limit)") }
        if let sample, sample < 1 { throw ValidationError("--sample must be at least 1, not \(sample)") }
        if limit != nil && sample != nil { throw ValidationError("--limit and --sample exclude each other") }
    }

    /// The chosen samples of `dataset` (read from `url`), after printing a warning about them if there is one.
    func samples(of dataset: LogicDataset, from url: URL, seed: UInt64) -> [LogicSample] {
        let chosen = dataset.chosenRows(sample: sample, limit: limit, seed: seed)
        if let warning = chosen.warning { FileHandle.standardError.write(Data("warning: \(url.path): \(warning)\n".utf8)) }
        return chosen.indices.map { dataset.samples[$0] }
    }
}

/// How a reporting command prints its result: a table for people or one JSON object for programs.
enum OutputFormat: String, CaseIterable, ExpressibleByArgument {
    case table, json
}

/// Prints a JSON object from `JSONSerialization` on one line, keys sorted.
func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

extension WeightStorage: ExpressibleByArgument {}

/// How the weights are kept; both give the same numbers bit for bit.
let weightStorageHelp = ArgumentHelp(
    "stored: as in the file (memory-mapped, decoded a panel at a time: memory about the file's size); "
        + "float32: decoded once at load (4 bytes a weight, faster); auto: float32 when that takes at most 1 GiB, "
        + "else stored. The same numbers either way.")
