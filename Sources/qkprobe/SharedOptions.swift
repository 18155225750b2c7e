import ArgumentParser
import Foundation
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
    "Weights as stored in the file (memory-mapped, decoded a panel at a time: memory about the file's size) "
        + "or decoded once to float32 (4 bytes a weight). The same numbers either way.")
