import Foundation
import ModelFormats

extension Tokenizer {
    /// The tokenizer of a Hugging Face model folder: `tokenizer.json`, and `tokenizer_config.json`
    /// where present. `addBOS` overrides whether `encode` puts the BOS token first.
    public init(folder: URL, addBOS: Bool? = nil) throws {
        let json = folder.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: json.path) else {
            throw TokenizerError(folder.path, "no tokenizer.json in this folder")
        }
        let config = folder.appendingPathComponent("tokenizer_config.json")
        try self.init(tokenizerJSON: json,
                      tokenizerConfig: FileManager.default.fileExists(atPath: config.path) ? config : nil,
                      addBOS: addBOS)
    }

    /// A tokenizer from Hugging Face's `tokenizer.json` (byte-level or SentencePiece-style BPE) and, optionally, the
    /// `tokenizer_config.json` beside it (BOS and EOS tokens, `add_bos_token`, `add_eos_token`).
    public init(tokenizerJSON: URL, tokenizerConfig: URL? = nil, addBOS: Bool? = nil) throws {
        let file = JSONFile(tokenizerJSON.path)
        let root = try file.object(file.parse(), "the file")

        let model = try file.object(root["model"], "model")
        let modelType = model["type"] as? String ?? "BPE"
        guard modelType == "BPE" else {
            throw file.error("model type \(modelType) is not supported (only BPE)")
        }
        try file.rejectUnsupportedBPEOptions(model)
        let vocabulary = try file.object(model["vocab"], "model.vocab")
        let tokens = try vocabulary.map { entry -> (String, Int) in
            guard let id = entry.value as? Int else { throw file.error("model.vocab[\"\(entry.key)\"] is not an integer") }
            guard (0 ..< Tokenizer.largestVocabulary).contains(id) else {
                throw file.error("model.vocab[\"\(entry.key)\"] has id \(id), outside 0..<\(Tokenizer.largestVocabulary)")
            }
            return (entry.key, id)
        }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
        // Two tokens with one id would make decoding ambiguous; Hugging Face keeps one silently.
        for (first, second) in zip(tokens, tokens.dropFirst()) where first.1 == second.1 {
            throw file.error("model.vocab gives id \(first.1) to both \"\(first.0)\" and \"\(second.0)\"")
        }
        let normalizer = try file.normalizer(root["normalizer"])
        let preTokenizerJSON = root["pre_tokenizer"].flatMap { $0 is NSNull ? nil : $0 }
        let preTokenizer = try preTokenizerJSON.map(file.preTokenizer) ?? .sequence([])
        // Hugging Face's BPE works on characters; a ByteLevel pre-tokenizer has spelled the bytes as
        // characters by then, which BytePairModel does itself.
        let isByteLevel = preTokenizer.steps.contains { if case .byteLevel = $0 { true } else { false } }
        let byteFallback = model["byte_fallback"] as? Bool ?? false
        if isByteLevel && byteFallback { throw file.error("BPE byte_fallback cannot go with a ByteLevel pre-tokenizer") }
        if !isByteLevel && !byteFallback {
            throw file.error("BPE needs a ByteLevel pre-tokenizer (byte-level BPE) or byte_fallback (SentencePiece style)")
        }
        let bpe = try BytePairModel(
            tokens: tokens, merges: try file.merges(model["merges"]),
            alphabet: isByteLevel ? .byteLevel : .characters(byteFallback: true),
            ignoreMerges: model["ignore_merges"] as? Bool ?? false,
            unknownToken: model["unk_token"] as? String, fuseUnknown: model["fuse_unk"] as? Bool ?? false,
            source: file.path)

        let addedTokens = try (root["added_tokens"] as? [Any] ?? []).enumerated().map { index, item in
            try file.addedToken(file.object(item, "added_tokens[\(index)]"), index: index)
        }
        let decoder = try file.decoder(root["decoder"])
        var postProcessor = PostProcessor()
        try file.readPostProcessor(root["post_processor"], into: &postProcessor)

        func idOf(_ token: String) -> Int? {
            addedTokens.last(where: { $0.content == token })?.id ?? bpe.vocabulary[token]
        }
        var bosTokenID = postProcessor.prefix.first
        var eosTokenID: Int?
        var configAddsBOS: Bool?
        if let tokenizerConfig {
            let configFile = JSONFile(tokenizerConfig.path)
            let config = try configFile.object(configFile.parse(), "the file")
            if let bos = try configFile.tokenContent(config["bos_token"], "bos_token") {
                guard let id = idOf(bos) else { throw configFile.error("bos_token \"\(bos)\" is not in the vocabulary") }
                bosTokenID = id
            }
            if let eos = try configFile.tokenContent(config["eos_token"], "eos_token") {
                guard let id = idOf(eos) else { throw configFile.error("eos_token \"\(eos)\" is not in the vocabulary") }
                eosTokenID = id
            }
            configAddsBOS = config["add_bos_token"] as? Bool
            if config["add_eos_token"] as? Bool == true, let eosTokenID, postProcessor.suffix.last != eosTokenID {
                postProcessor.suffix.append(eosTokenID)
            }
        }
        if let add = addBOS ?? configAddsBOS {
            try postProcessor.setBOS(add, bosTokenID: bosTokenID, source: file.path)
        }
        try self.init(model: bpe, addedTokens: addedTokens, normalizer: normalizer, preTokenizer: preTokenizer,
                      postProcessor: postProcessor, decoder: decoder, bosTokenID: bosTokenID, eosTokenID: eosTokenID,
                      source: file.path)
    }
}

extension Tokenizer.PostProcessor {
    /// Puts the BOS token first, or takes it out, as `add_bos_token` or the caller says.
    mutating func setBOS(_ add: Bool, bosTokenID: Int?, source: String) throws {
        guard let bosTokenID else {
            if add { throw TokenizerError(source, "a BOS token is asked for but the tokenizer names none") }
            return
        }
        if add {
            if prefix.first != bosTokenID { prefix.insert(bosTokenID, at: 0) }
        } else {
            prefix.removeAll { $0 == bosTokenID }
        }
    }
}

/// Reading one JSON file, with errors that name the file and the key.
private struct JSONFile {
    let path: String

    init(_ path: String) { self.path = path }

    func error(_ problem: String) -> TokenizerError { TokenizerError(path, problem) }

    func parse() throws -> Any {
        let data = try RegularFile.contents(of: URL(fileURLWithPath: path))
        do {
            return try JSONSerialization.jsonObject(with: data)
        } catch {
            throw self.error("not valid JSON")
        }
    }

    func object(_ value: Any?, _ what: String) throws -> [String: Any] {
        guard let object = value as? [String: Any] else { throw error("\(what) is not a JSON object") }
        return object
    }

    /// A token given as a string or as `{"content": ...}`; nil when absent or null.
    func tokenContent(_ value: Any?, _ what: String) throws -> String? {
        switch value {
        case nil, is NSNull: return nil
        case let string as String: return string
        case let object as [String: Any]:
            guard let content = object["content"] as? String else { throw error("\(what) has no content") }
            return content
        default: throw error("\(what) is neither a string nor a token object")
        }
    }

    func rejectUnsupportedBPEOptions(_ model: [String: Any]) throws {
        if let dropout = model["dropout"] as? Double, dropout > 0 {
            throw error("BPE dropout is not supported (it makes tokenization random)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = model[key] as? String, !affix.isEmpty { throw error("BPE \(key) is not supported") }
        }
    }

    /// Merges as "left right" strings (older files) or as [left, right] pairs.
    func merges(_ value: Any?) throws -> [(String, String)] {
        guard let list = value as? [Any] else { throw error("model.merges is not a list") }
        return try list.enumerated().map { index, item in
            if let pair = item as? [String], pair.count == 2 { return (pair[0], pair[1]) }
            if let line = item as? String {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                if parts.count == 2 { return (String(parts[0]), String(parts[1])) }
            }
            throw error("model.merges[\(index)] is not a pair of tokens")
        }
    }

    func addedToken(_ object: [String: Any], index: Int) throws -> AddedToken {
        guard let id = object["id"] as? Int, id >= 0, let content = object["content"] as? String else {
            throw error("added_tokens[\(index)] needs an id and a content")
        }
        guard id < Tokenizer.largestVocabulary else {
            throw error("added_tokens[\(index)] (\"\(content)\") has id \(id), outside 0..<\(Tokenizer.largestVocabulary)")
        }
        let special = object["special"] as? Bool ?? false
        return AddedToken(id: id, content: content, special: special,
                          normalized: object["normalized"] as? Bool,
                          lstrip: object["lstrip"] as? Bool ?? false, rstrip: object["rstrip"] as? Bool ?? false,
                          singleWord: object["single_word"] as? Bool ?? false)
    }

    func normalizer(_ value: Any?) throws -> Normalizer? {
        guard let value, !(value is NSNull) else { return nil }
        let object = try self.object(value, "normalizer")
        switch object["type"] as? String {
        case "NFC":
            return .nfc
        case "Prepend":
            guard let text = object["prepend"] as? String else { throw error("normalizer Prepend has no prepend string") }
            return .prepend(text)
        case "Replace":
            let pattern = (object["pattern"] as? [String: Any])?["String"] as? String
            guard let pattern, pattern.unicodeScalars.count == 1, let scalar = pattern.unicodeScalars.first else {
                throw error("normalizer Replace is supported only with a one-character String pattern")
            }
            guard let content = object["content"] as? String else { throw error("normalizer Replace has no content") }
            return .replace(pattern: scalar, content: content)
        case "Sequence":
            let steps = try (object["normalizers"] as? [Any] ?? []).compactMap(normalizer)
            return steps.count <= 1 ? steps.first : .sequence(steps)
        case let type:
            throw error("normalizer \(type ?? "without a type") is not supported (NFC, Prepend, Replace, Sequence are)")
        }
    }

    func preTokenizer(_ value: Any) throws -> PreTokenizer {
        let object = try self.object(value, "pre_tokenizer")
        switch object["type"] as? String {
        case "Sequence":
            guard let steps = object["pretokenizers"] as? [Any] else { throw error("pre_tokenizer Sequence has no pretokenizers list") }
            return .sequence(try steps.map(preTokenizer))
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: object["add_prefix_space"] as? Bool ?? true,
                              useRegex: object["use_regex"] as? Bool ?? true)
        case "Metaspace":
            let replacement = (object["replacement"] as? String).map { Array($0.unicodeScalars) }
            guard let replacement, replacement.count == 1 else { throw error("pre_tokenizer Metaspace needs a one-character replacement") }
            let schemeName = object["prepend_scheme"] as? String ?? "always"
            guard let scheme = PreTokenizer.PrependScheme(rawValue: schemeName) else {
                throw error("pre_tokenizer Metaspace prepend_scheme \(schemeName) is not one of always, first, never")
            }
            return .metaspace(replacement: replacement[0], prependScheme: scheme, split: object["split"] as? Bool ?? true)
        case "Digits":
            return .digits(individual: object["individual_digits"] as? Bool ?? false)
        case "Split":
            let pattern = object["pattern"] as? [String: Any]
            guard let regex = pattern?["Regex"] as? String else {
                throw error("pre_tokenizer Split needs a Regex pattern (a plain String pattern is not supported)")
            }
            guard let known = SplitPattern.allCases.first(where: { $0.regex == regex }) else {
                throw error("pre_tokenizer Split pattern \(regex) is not one of the known patterns (GPT-2, Llama 3, Qwen2)")
            }
            let behavior = object["behavior"] as? String ?? "Isolated"
            guard behavior == "Isolated", object["invert"] as? Bool != true else {
                throw error("pre_tokenizer Split with behavior \(behavior) or invert is not supported (only Isolated)")
            }
            return .split(known)
        case let type:
            throw error("pre_tokenizer \(type ?? "without a type") is not supported (ByteLevel, Metaspace, Split, Digits, Sequence are)")
        }
    }

    func decoder(_ value: Any?) throws -> TokenDecoder {
        let object = try self.object(value, "decoder")
        switch object["type"] as? String {
        case "ByteLevel":
            return .byteLevel
        case "Sequence":
            guard let steps = object["decoders"] as? [Any] else { throw error("decoder Sequence has no decoders list") }
            return .steps(try steps.map { try decoderStep(self.object($0, "decoder step")) })
        default:
            return .steps([try decoderStep(object)])
        }
    }

    private func decoderStep(_ object: [String: Any]) throws -> DecoderStep {
        switch object["type"] as? String {
        case "Replace":
            guard let pattern = (object["pattern"] as? [String: Any])?["String"] as? String, !pattern.isEmpty,
                  let content = object["content"] as? String else {
                throw error("decoder Replace is supported only with a String pattern and a content")
            }
            return .replace(pattern: pattern, content: content)
        case "ByteFallback":
            return .byteFallback
        case "Fuse":
            return .fuse
        case "Strip":
            let content = (object["content"] as? String).map { Array($0.unicodeScalars) }
            guard let content, content.count == 1, let start = object["start"] as? Int, let stop = object["stop"] as? Int,
                  start >= 0, stop >= 0 else {
                throw error("decoder Strip needs a one-character content and non-negative start and stop")
            }
            return .strip(content: content[0], start: start, stop: stop)
        case let type:
            throw error("decoder \(type ?? "without a type") is not supported (ByteLevel, or a Sequence of Replace, ByteFallback, Fuse, Strip)")
        }
    }

    func readPostProcessor(_ value: Any?, into processor: inout Tokenizer.PostProcessor) throws {
        guard let value, !(value is NSNull) else { return }
        let object = try self.object(value, "post_processor")
        switch object["type"] as? String {
        case "Sequence":
            for step in object["processors"] as? [Any] ?? [] {
                try readPostProcessor(step, into: &processor)
            }
        case "ByteLevel":
            processor.trimOffsets = object["trim_offsets"] as? Bool ?? true
            processor.trimSparesPrefixSpace = object["add_prefix_space"] as? Bool ?? true
        case "TemplateProcessing":
            guard let single = object["single"] as? [Any] else { throw error("post_processor TemplateProcessing has no single template") }
            let specials = object["special_tokens"] as? [String: Any] ?? [:]
            var seenSequence = false
            for item in single {
                let entry = item as? [String: Any]
                if entry?["Sequence"] != nil {
                    guard !seenSequence else { throw error("post_processor single template holds the sequence twice") }
                    seenSequence = true
                } else if let name = (entry?["SpecialToken"] as? [String: Any])?["id"] as? String {
                    guard let ids = (specials[name] as? [String: Any])?["ids"] as? [Int] else {
                        throw error("post_processor special token \(name) has no ids")
                    }
                    if seenSequence { processor.suffix += ids } else { processor.prefix += ids }
                } else {
                    throw error("post_processor single template has an item that is neither SpecialToken nor Sequence")
                }
            }
        case let type:
            throw error("post_processor \(type ?? "without a type") is not supported (ByteLevel, TemplateProcessing, Sequence are)")
        }
    }
}
