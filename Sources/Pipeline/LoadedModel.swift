import Foundation
import ModelFormats
import Tokenizers
import Transformer

/// A model with its tokenizer, opened once from a GGUF file or a Hugging Face folder.
public struct LoadedModel {
    /// The path as given (or the default model's).
    public let path: String
    public let opened: OpenedModel
    public let tokenizer: Tokenizer
    public let transformer: Transformer

    /// Opens the model at `path`, or the default model (`DefaultModel.resolve()`) when nil, its
    /// weights kept as `storage` says.
    public init(path: String?, storage: WeightStorage = .automatic) throws {
        self.path = try path ?? DefaultModel.resolve().path
        opened = try OpenedModel.open(path: self.path)
        if let gguf = opened.gguf {
            tokenizer = try Tokenizer(gguf: gguf)
        } else {
            tokenizer = try Tokenizer(folder: opened.location.url)
        }
        try tokenizer.checkFits(modelVocabularySize: opened.config.vocabSize, modelPath: self.path)
        transformer = try Transformer(opened, storage: storage)
    }

    /// The text a token stands for, e.g. " Paris".
    public func text(of token: Int) -> String {
        tokenizer.decode([token])
    }
}
