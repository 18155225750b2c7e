import ArgumentParser
import Foundation
import ModelFormats
import Tokenizers
import Transformer

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's architecture, hyper-parameters, tensors, tokenizer and sha256.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "table, or json for exactly one JSON object.")
    var format: OutputFormat = .table

    func run() throws {
        let report = try ModelReport(path: try modelOptions.resolvedPath())
        if format == .json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.table)
        }
    }
}

/// What `inspect` says about a model; its coding keys are the `--format json` field names.
struct ModelReport: Encodable {
    /// How the model's text is tokenized, as its own files name it.
    struct TokenizerKind: Encodable {
        /// `gguf` (the file's `tokenizer.ggml.*` metadata) or `tokenizer.json`.
        var source: String
        /// GGUF `tokenizer.ggml.model` (`gpt2`, `llama`, ...) or tokenizer.json `model.type` (`BPE`, ...).
        var model: String?
        /// GGUF `tokenizer.ggml.pre` or tokenizer.json `pre_tokenizer.type`.
        var pre: String?
        var tokenCount: Int?

        enum CodingKeys: String, CodingKey {
            case source, model, pre, tokenCount = "token_count"
        }
    }

    var path: String
    var format: String
    var ggufVersion: Int?
    var sha256: String
    var name: String
    var architecture: String
    var nLayers, dModel, nHeads, nKVHeads, dHead, dFF, vocabSize, contextLength: Int
    var normEps, ropeTheta: Float
    var tieWordEmbeddings, attentionBias: Bool
    /// `rotary` or `learned`; the rotary scaling type (`llama3`, `linear`, `yarn`) or nil; the sliding window or nil.
    var positions: String
    var ropeScaling: String?
    var slidingWindow: Int?
    var tensorCount: Int
    var tensorsByType: [String: Int]
    var parameterCount: Int
    var tokenizer: TokenizerKind

    enum CodingKeys: String, CodingKey {
        case path, format, sha256, name, architecture, tokenizer
        case ggufVersion = "gguf_version", nLayers = "n_layers", dModel = "d_model", nHeads = "n_heads"
        case nKVHeads = "n_kv_heads", dHead = "d_head", dFF = "d_ff", vocabSize = "vocab_size"
        case contextLength = "context_length", normEps = "norm_eps", ropeTheta = "rope_theta"
        case tieWordEmbeddings = "tie_word_embeddings", attentionBias = "attention_bias"
        case positions, ropeScaling = "rope_scaling", slidingWindow = "sliding_window"
        case tensorCount = "tensor_count", tensorsByType = "tensors_by_type", parameterCount = "parameter_count"
    }

    init(path: String) throws {
        let location = try ModelLocation(path: path)
        let opened = try location.open()
        let config = opened.config
        self.path = location.url.path
        sha256 = try location.sha256()
        name = config.name
        architecture = config.architecture.rawValue
        (nLayers, dModel, nHeads, nKVHeads) = (config.nLayers, config.dModel, config.nHeads, config.nKVHeads)
        (dHead, dFF, vocabSize, contextLength) = (config.dHead, config.dFF, config.vocabSize, config.contextLength)
        (normEps, ropeTheta) = (config.normEps, config.ropeTheta)
        (tieWordEmbeddings, attentionBias) = (config.tieWordEmbeddings, config.attentionBias)
        positions = opened.capabilities?.positions.rawValue ?? "unknown"
        ropeScaling = config.ropeScaling?.typeName
        slidingWindow = config.slidingWindow
        // The tokenizer is read as every other command reads it, so a broken one is reported here too.
        let readTokenizer = try opened.gguf.map { try Tokenizer(gguf: $0) } ?? Tokenizer(folder: location.url)
        try readTokenizer.checkFits(modelVocabularySize: config.vocabSize, modelPath: location.url.path)

        let names = opened.weights.tensorNames
        tensorCount = names.count
        parameterCount = names.reduce(0) { $0 + (opened.weights.shape(of: $1)?.reduce(1, *) ?? 0) }
        if let gguf = opened.gguf {
            format = "gguf"
            ggufVersion = Int(gguf.version)
            tensorsByType = Dictionary(gguf.tensorInfos.map { ($0.type.description, 1) }, uniquingKeysWith: +)
            tokenizer = TokenizerKind(source: "gguf", model: gguf.string("tokenizer.ggml.model"),
                                      pre: gguf.string("tokenizer.ggml.pre"), tokenCount: gguf.arrayCount("tokenizer.ggml.tokens"))
        } else {
            format = "huggingface"
            let checkpoint = opened.weights as? SafetensorsCheckpoint
            tensorsByType = Dictionary(names.compactMap { checkpoint?.tensorInfo($0).map { ($0.dtype.rawValue, 1) } },
                                       uniquingKeysWith: +)
            tokenizer = try Self.tokenizerKind(opened.tokenizerJSON)
        }
    }

    /// The model and pre-tokenizer types named in a tokenizer.json.
    private static func tokenizerKind(_ url: URL?) throws -> TokenizerKind {
        guard let url else { return TokenizerKind(source: "none") }
        let data = try RegularFile.contents(of: url)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelFormatError(url.path, "not a JSON object")
        }
        let model = object["model"] as? [String: Any]
        // Token ids: a BPE/WordPiece vocab maps tokens to ids, a Unigram vocab is a list (ids are
        // positions); added tokens may reuse vocab ids or add new ones.
        var ids = Set<Int>()
        if let vocab = model?["vocab"] as? [String: Any] {
            ids.formUnion(vocab.values.compactMap { $0 as? Int })
        } else if let vocab = model?["vocab"] as? [Any] {
            ids.formUnion(vocab.indices)
        }
        let added = object["added_tokens"] as? [[String: Any]] ?? []
        ids.formUnion(added.compactMap { $0["id"] as? Int })
        return TokenizerKind(source: ModelLocation.tokenizerFileName, model: model?["type"] as? String,
                             pre: (object["pre_tokenizer"] as? [String: Any])?["type"] as? String,
                             tokenCount: ids.isEmpty ? nil : ids.count)
    }

    var table: String {
        let types = tensorsByType.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let tokenizerLine = [tokenizer.model, tokenizer.pre.map { "pre-tokenizer \($0)" },
                             tokenizer.tokenCount.map { "\($0) tokens" }, "from \(tokenizer.source)"]
            .compactMap { $0 }.joined(separator: ", ")
        let rows: [(String, String)] = [
            ("path", path),
            ("format", format + (ggufVersion.map { " v\($0)" } ?? "")),
            ("sha256", sha256),
            ("name", name),
            ("architecture", architecture),
            ("layers", "\(nLayers)"),
            ("d_model", "\(dModel)"),
            ("heads", "\(nHeads) query, \(nKVHeads) key/value, d_head \(dHead)"),
            ("d_ff", "\(dFF)"),
            ("vocabulary", "\(vocabSize)"),
            ("context", "\(contextLength)"),
            ("norm eps", "\(normEps)"),
            ("positions", positions == "learned" ? "learned (no rotary embedding)"
                : "rotary, theta \(ropeTheta)" + (ropeScaling.map { ", \($0) scaling" } ?? "")),
            ("sliding window", slidingWindow.map { "\($0) tokens" } ?? "none"),
            ("tied embeddings", tieWordEmbeddings ? "yes" : "no"),
            ("q/k/v biases", attentionBias ? "yes" : "no"),
            ("tensors", "\(tensorCount) (\(types)), \(parameterCount) parameters"),
            ("tokenizer", tokenizerLine),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
    }
}
