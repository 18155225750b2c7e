import Foundation
import ModelFormats

extension Tokenizer {
    /// The tokenizer a GGUF file describes (`tokenizer.ggml.*`), tokenizing as Hugging Face does.
    ///
    /// - `gpt2` (byte-level BPE): as the model's original tokenizer.json does, with the pre-tokenizer
    ///   family named by `tokenizer.ggml.pre`.
    /// - `llama` (SentencePiece-style BPE, Llama 2, Mistral): as transformers' GGUF loader
    ///   (`AutoTokenizer.from_pretrained(dir, gguf_file:)`) builds it: BPE with byte fallback, merges
    ///   from the file or else derived from the scores (see `mergesFromScores`), Metaspace with
    ///   prepend scheme "first", and BOS first unless `add_bos_token` is false.
    /// - `llama` in a Gemma file (`general.architecture` gemma, gemma2, gemma3): as transformers'
    ///   GemmaTokenizer, which it builds for these: spaces become "▁" by a normalizer and nothing is
    ///   prepended or split off, so the text between added tokens is one word; tokens made only of
    ///   whitespace are respelled with one "▁" per character; the merges come from the vocabulary's
    ///   order (Gemma's scores do not follow the merge order), and the decoder strips nothing.
    ///
    /// Control tokens (type 3) are special tokens and user-defined ones (type 4) added tokens; BOS and
    /// EOS as `add_bos_token` / `add_eos_token` say. `addBOS` overrides the file's `add_bos_token`.
    public init(gguf: GGUFFile, addBOS: Bool? = nil) throws {
        let source = gguf.path
        func error(_ problem: String) -> TokenizerError { TokenizerError(source, problem) }

        let isSentencePiece: Bool
        switch gguf.string("tokenizer.ggml.model") {
        case "gpt2": isSentencePiece = false
        case "llama": isSentencePiece = true
        case nil: throw error("no tokenizer in this file (tokenizer.ggml.model is missing)")
        case let model?:
            throw error("tokenizer.ggml.model \(model) is not supported (gpt2, byte-level BPE, and llama, SentencePiece-style BPE, are)")
        }
        guard let fileTokens = gguf.stringArray("tokenizer.ggml.tokens"), !fileTokens.isEmpty else {
            throw error("tokenizer.ggml.tokens is missing, empty or not a list of strings")
        }
        let isGemma = isSentencePiece && ["gemma", "gemma2", "gemma3"].contains(gguf.string("general.architecture") ?? "")
        // Gemma files spell a token of spaces with real spaces; its tokenizer looks it up as "▁"s.
        let tokens = isGemma ? fileTokens.map(Self.gemmaSpelling) : fileTokens
        let mergeLines = gguf.value("tokenizer.ggml.merges") == nil ? nil : gguf.stringArray("tokenizer.ggml.merges")
        if gguf.value("tokenizer.ggml.merges") != nil && mergeLines == nil {
            throw error("tokenizer.ggml.merges is not a list of strings")
        }
        let merges = try mergeLines?.enumerated().map { index, line -> (String, String) in
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw error("tokenizer.ggml.merges[\(index)] is not two tokens separated by a space") }
            return (String(parts[0]), String(parts[1]))
        }
        let types = gguf.value("tokenizer.ggml.token_type") == nil ? [] : gguf.intArray("tokenizer.ggml.token_type")
        guard let types else { throw error("tokenizer.ggml.token_type is not a list of integers") }
        guard types.isEmpty || types.count == tokens.count else {
            throw error("tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
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

        let controlType = 3, userDefinedType = 4
        // As transformers: added tokens keep the file's spelling; a user-defined one whose spelling
        // is no longer in the (respelled) vocabulary is not added.
        let respelled = isGemma ? Set(tokens) : []
        var addedTokens = zip(tokens.indices, types).compactMap { id, type -> AddedToken? in
            switch type {
            case controlType: return AddedToken(id: id, content: fileTokens[id], special: true, normalized: false)
            case userDefinedType where !isGemma || respelled.contains(fileTokens[id]):
                return AddedToken(id: id, content: fileTokens[id], special: false, normalized: false)
            default: return nil
            }
        }
        let model: BytePairModel
        let normalizer: Normalizer?
        let preTokenizer: PreTokenizer
        let decoder: TokenDecoder
        var addsBOS = gguf.bool("tokenizer.ggml.add_bos_token") ?? false
        if isSentencePiece {
            // transformers makes the tokens the file names BOS, EOS, unknown and padding special too.
            let named = try ["bos", "eos", "unknown", "padding"].compactMap { try tokenID("tokenizer.ggml.\($0)_token_id") }
            for id in named where !addedTokens.contains(where: { $0.id == id }) {
                addedTokens.append(AddedToken(id: id, content: tokens[id], special: true, normalized: false))
            }
            // llama.cpp spells every character outside the vocabulary as byte tokens, so all must be there.
            let vocabulary = Set(tokens.map { Array($0.utf8) })
            if let missing = (0...255).map({ BytePairModel.byteToken(UInt8($0)) }).first(where: { !vocabulary.contains(Array($0.utf8)) }) {
                throw error("tokenizer.ggml.tokens lacks the byte token \(missing) (SentencePiece-style BPE falls back to bytes)")
            }
            let derivedMerges: [(String, String)]
            if let merges {
                derivedMerges = merges
            } else if isGemma {
                derivedMerges = Self.mergesFromScores(tokens: tokens, scores: tokens.indices.map { -Float($0) })
            } else {
                guard let scores = gguf.floatArray("tokenizer.ggml.scores") else {
                    throw error("tokenizer.ggml.scores is missing or not a list of numbers (the merges come from the scores)")
                }
                guard scores.count == tokens.count else {
                    throw error("tokenizer.ggml.scores has \(scores.count) entries for \(tokens.count) tokens")
                }
                if let bad = scores.firstIndex(where: { !$0.isFinite }) { throw error("tokenizer.ggml.scores[\(bad)] is not a finite number") }
                derivedMerges = Self.mergesFromScores(tokens: tokens, scores: scores)
            }
            model = try BytePairModel(tokens: Array(zip(tokens, tokens.indices)), merges: derivedMerges,
                                      alphabet: .characters(byteFallback: true), fuseUnknown: true, source: source)
            if isGemma {
                normalizer = .replace(pattern: " ", content: String(PreTokenizer.metaspace))
                preTokenizer = .sequence([])
                decoder = .gemma
            } else {
                normalizer = nil
                preTokenizer = .metaspace(replacement: PreTokenizer.metaspace, prependScheme: .first, split: false)
                decoder = .sentencePiece
            }
            // As transformers and llama.cpp: a SentencePiece vocabulary adds BOS unless it says not to.
            addsBOS = gguf.bool("tokenizer.ggml.add_bos_token") ?? true
        } else {
            let preName = gguf.string("tokenizer.ggml.pre") ?? "default"
            guard let family = PreTokenizerFamily(ggufName: preName) else {
                let known = PreTokenizerFamily.allCases.map(\.rawValue).joined(separator: ", ")
                throw error("tokenizer.ggml.pre \(preName) is not supported (supported: \(known))")
            }
            guard let merges else { throw error("tokenizer.ggml.merges is missing or not a list of strings") }
            model = try BytePairModel(tokens: Array(zip(tokens, tokens.indices)), merges: merges,
                                      ignoreMerges: family.ignoresMerges, source: source)
            normalizer = family.normalizer
            preTokenizer = family.preTokenizer
            decoder = .byteLevel
        }

        var postProcessor = PostProcessor()
        try postProcessor.setBOS(addBOS ?? addsBOS, bosTokenID: bosTokenID, source: source)
        if gguf.bool("tokenizer.ggml.add_eos_token") == true {
            guard let eosTokenID else { throw error("tokenizer.ggml.add_eos_token is set but there is no eos_token_id") }
            postProcessor.suffix = [eosTokenID]
        }
        try self.init(model: model, addedTokens: addedTokens, normalizer: normalizer, preTokenizer: preTokenizer,
                      postProcessor: postProcessor, decoder: decoder, bosTokenID: bosTokenID, eosTokenID: eosTokenID,
                      source: source)
    }

    /// Gemma's spelling of a token made only of whitespace with a space in it: one "▁" per character.
    /// Whitespace as Python's `str.strip` sees it: Unicode's, and the separators U+001C-U+001F.
    static func gemmaSpelling(_ token: String) -> String {
        let scalars = token.unicodeScalars
        func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace || (0x1C...0x1F).contains(s.value) }
        guard scalars.contains(" "), scalars.allSatisfy(isSpace) else { return token }
        return String(repeating: String(PreTokenizer.metaspace), count: scalars.count)
    }

    /// The merges transformers derives for a SentencePiece vocabulary that lists none (llama.cpp merges
    /// by score instead): every split of a token into two tokens, ordered by the token's score (best
    /// first), then by the longer left part, then the longer right part; ties keep vocabulary order,
    /// and the splits of one token go by the ids of their parts. A repeated token counts once, at its
    /// first place, with its last score.
    static func mergesFromScores(tokens: [String], scores: [Float]) -> [(String, String)] {
        var idOf: [[UInt8]: Int] = [:]
        var scoreOf: [[UInt8]: Float] = [:]
        for (id, token) in tokens.enumerated() {
            idOf[Array(token.utf8)] = id
            scoreOf[Array(token.utf8)] = scores[id]
        }
        struct Candidate {
            var left: String, right: String
            var score: Float
            var leftLength: Int, rightLength: Int
        }
        var candidates: [Candidate] = []
        var seen = Set<[UInt8]>()
        for token in tokens where seen.insert(Array(token.utf8)).inserted {
            let scalars = Array(token.unicodeScalars)
            guard scalars.count > 1, let score = scoreOf[Array(token.utf8)] else { continue }
            var splits: [(ids: (Int, Int), candidate: Candidate)] = []
            for cut in 1..<scalars.count {
                let left = String(String.UnicodeScalarView(scalars[..<cut]))
                let right = String(String.UnicodeScalarView(scalars[cut...]))
                guard let leftID = idOf[Array(left.utf8)], let rightID = idOf[Array(right.utf8)] else { continue }
                splits.append(((leftID, rightID), Candidate(left: left, right: right, score: score,
                                                            leftLength: cut, rightLength: scalars.count - cut)))
            }
            candidates += splits.sorted { $0.ids < $1.ids }.map(\.candidate)
        }
        let order = candidates.indices.sorted { a, b in
            let (x, y) = (candidates[a], candidates[b])
            if x.score != y.score { return x.score > y.score }
            if x.leftLength != y.leftLength { return x.leftLength > y.leftLength }
            if x.rightLength != y.rightLength { return x.rightLength > y.rightLength }
            return a < b
        }
        return order.map { (candidates[$0].left, candidates[$0].right) }
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
