import Foundation
import ModelFormats

extension Tokenizer {
    /// The tokenizer a GGUF file describes (`tokenizer.ggml.*`), tokenizing as the model's original
    /// Hugging Face tokenizer.json does: the pre-tokenizer family named by `tokenizer.ggml.pre`, control
    /// tokens (type 3) as special tokens and user-defined ones (type 4) as added tokens, BOS and EOS as
    /// `add_bos_token` / `add_eos_token` say. `addBOS` overrides the file's `add_bos_token`.
    public init(gguf: GGUFFile, addBOS: Bool? = nil) throws {
        let source = gguf.path
        func error(_ problem: String) -> TokenizerError { TokenizerError(source, problem) }

        switch gguf.string("tokenizer.ggml.model") {
        case "gpt2": break
        case "llama": throw error("SentencePiece-style BPE (tokenizer.ggml.model llama, e.g. Llama 2, Mistral) is not supported yet")
        case nil: throw error("no tokenizer in this file (tokenizer.ggml.model is missing)")
        case let model?: throw error("tokenizer.ggml.model \(model) is not supported (gpt2, byte-level BPE, is)")
        }
        let preName = gguf.string("tokenizer.ggml.pre") ?? "default"
        guard let family = PreTokenizerFamily(ggufName: preName) else {
            let known = PreTokenizerFamily.allCases.map(\.rawValue).joined(separator: ", ")
            throw error("tokenizer.ggml.pre \(preName) is not supported (supported: \(known))")
        }
        guard let tokens = gguf.stringArray("tokenizer.ggml.tokens"), !tokens.isEmpty else {
            throw error("tokenizer.ggml.tokens is missing, empty or not a list of strings")
        }
        guard let mergeLines = gguf.stringArray("tokenizer.ggml.merges") else {
            throw error("tokenizer.ggml.merges is missing or not a list of strings")
        }
        let merges = try mergeLines.enumerated().map { index, line -> (String, String) in
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw error("tokenizer.ggml.merges[\(index)] is not two tokens separated by a space") }
            return (String(parts[0]), String(parts[1]))
        }
        let types = gguf.value("tokenizer.ggml.token_type") == nil ? [] : gguf.intArray("tokenizer.ggml.token_type")
        guard let types else { throw error("tokenizer.ggml.token_type is not a list of integers") }
        guard types.isEmpty || types.count == tokens.count else {
            throw error("tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
        }
        let controlType = 3, userDefinedType = 4
        let addedTokens = zip(tokens.indices, types).compactMap { id, type -> AddedToken? in
            switch type {
            case controlType: return AddedToken(id: id, content: tokens[id], special: true, normalized: false)
            case userDefinedType: return AddedToken(id: id, content: tokens[id], special: false, normalized: false)
            default: return nil
            }
        }

        func tokenID(_ key: String) throws -> Int? {
            guard let value = gguf.value(key) else { return nil }
            guard let id = value.intValue, tokens.indices.contains(id) else {
                throw error("\(key) \(value) is not a token id (the vocabulary has \(tokens.count) tokens)")
            }
            return id
        }
        let bosTokenID = try tokenID("tokenizer.ggml.bos_token_id")
        let eosTokenID = try tokenID("tokenizer.ggml.eos_token_id")
        var postProcessor = PostProcessor()
        try postProcessor.setBOS(addBOS ?? gguf.bool("tokenizer.ggml.add_bos_token") ?? false, bosTokenID: bosTokenID, source: source)
        if gguf.bool("tokenizer.ggml.add_eos_token") == true {
            guard let eosTokenID else { throw error("tokenizer.ggml.add_eos_token is set but there is no eos_token_id") }
            postProcessor.suffix = [eosTokenID]
        }

        let model = try BytePairModel(tokens: Array(zip(tokens, tokens.indices)), merges: merges,
                                      ignoreMerges: family.ignoresMerges, source: source)
        try self.init(model: model, addedTokens: addedTokens, normalizer: family.normalizer,
                      preTokenizer: family.preTokenizer, postProcessor: postProcessor,
                      bosTokenID: bosTokenID, eosTokenID: eosTokenID, source: source)
    }

    /// The tokenizer of a model path: a GGUF file, or a folder with `tokenizer.json` (a Hugging Face
    /// model folder, or one holding just the tokenizer files).
    public init(modelPath: String, addBOS: Bool? = nil) throws {
        let url = URL(fileURLWithPath: modelPath).standardizedFileURL
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            try self.init(folder: url, addBOS: addBOS)
            return
        }
        switch try ModelLocation(path: modelPath) {
        case .gguf(let file): try self.init(gguf: GGUFFile(url: file), addBOS: addBOS)
        case .huggingFaceFolder(let folder): try self.init(folder: folder, addBOS: addBOS)
        }
    }
}
