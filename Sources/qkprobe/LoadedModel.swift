import ArgumentParser
import Foundation
import ModelFormats
import Tokenizers
import Transformer

/// A model with its tokenizer, opened once from a GGUF file or a Hugging Face folder.
struct LoadedModel {
    let path: String
    let opened: OpenedModel
    let tokenizer: Tokenizer
    let transformer: Transformer

    /// `path`, or the default model, its weights kept as `storage` says.
    init(path: String?, storage: WeightStorage = .stored) throws {
        self.path = try path ?? DefaultModel.resolve().path
        opened = try OpenedModel.open(path: self.path)
        if let gguf = opened.gguf {
            tokenizer = try Tokenizer(gguf: gguf)
        } else {
            tokenizer = try Tokenizer(folder: opened.location.url)
        }
        transformer = try Transformer(opened, storage: storage)
    }

    /// The text a token stands for, e.g. " Paris".
    func text(of token: Int) -> String {
        tokenizer.decode([token])
    }
}

extension WeightStorage: ExpressibleByArgument {}

/// How the weights are kept; both give the same numbers bit for bit.
let weightStorageHelp = ArgumentHelp(
    "Weights as stored in the file (memory-mapped, decoded a panel at a time: memory about the file's size) "
        + "or decoded once to float32 (4 bytes a weight). The same numbers either way.")
