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

    /// `path`, or the default model.
    init(path: String?) throws {
        self.path = try path ?? DefaultModel.resolve().path
        opened = try OpenedModel.open(path: self.path)
        if let gguf = opened.gguf {
            tokenizer = try Tokenizer(gguf: gguf)
        } else {
            tokenizer = try Tokenizer(folder: opened.location.url)
        }
        try tokenizer.checkFits(modelVocabularySize: opened.config.vocabSize, modelPath: self.path)
        transformer = try Transformer(opened)
    }

    /// The text a token stands for, e.g. " Paris".
    func text(of token: Int) -> String {
        tokenizer.decode([token])
    }
}
