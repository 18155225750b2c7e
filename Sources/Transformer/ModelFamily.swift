import Foundation
import ModelFormats

/// What a family's forward pass computes, so that commands ask "does it have rotary embedding?"
/// rather than "is it GPT-2?".
public struct ModelCapabilities: Sendable, Equatable {
    public enum Positions: String, Sendable { case rotary, learned }
    public enum Norm: String, Sendable { case rms = "RMSNorm", layer = "LayerNorm" }
    public enum Activation: String, Sendable {
        case gatedSiLU = "SwiGLU (silu)", geluTanh = "GELU (tanh)", gatedGELUTanh = "GeGLU (GELU tanh)"

        /// A gate and an up projection multiplied (three MLP matrices, not two).
        public var isGated: Bool { self != .geluTanh }
    }
    public enum Biases: String, Sendable {
        case none, queryKeyValue = "q, k, v", all = "q, k, v, o and MLP", setting = "by config (attention_bias)"
    }

    /// Rotary embedding (then `hook_rot_q`/`hook_rot_k` exist) or learned absolute positions.
    public var positions: Positions
    public var norm: Norm
    public var activation: Activation
    public var biases: Biases
    /// Each head of q and k is RMS-normalised before rotary (Qwen3, Gemma 3).
    public var queryKeyNorm: Bool
    /// The family's configs may set a sliding attention window (on every layer, or on some with a
    /// rotary base of their own).
    public var slidingWindow: Bool
    /// Rotary scaling types this family's configs may ask for and the runtime computes.
    public var ropeScalings: [String]

    public var hasRotaryEmbedding: Bool { positions == .rotary }
}

/// One model family: the names its files use (HF `model_type` and class names, GGUF
/// `general.architecture`), its hyper-parameters with their keys and defaults, its tensor names,
/// what its forward pass computes, and how its tensors map onto the shared forward pass. Each
/// family lives in one file (Llama.swift, Qwen2.swift, Qwen3.swift, GPT2.swift, Gemma3.swift) and is listed in
/// `ModelFamilies.all`; docs/adding-a-model.md walks through adding one.
protocol ModelFamily {
    static var architecture: ArchitectureFamily { get }
    /// For the README and errors, e.g. "Llama (Llama 2 and 3, Mistral, SmolLM2)".
    static var summary: String { get }
    /// HF `config.json` `model_type` values.
    static var modelTypes: [String] { get }
    /// HF `architectures` class names, for configs without a `model_type`.
    static var huggingFaceClasses: [String] { get }
    /// GGUF `general.architecture` values.
    static var ggufArchitectures: [String] { get }
    static var capabilities: ModelCapabilities { get }

    /// The configuration of a GGUF file whose `general.architecture` is one of `ggufArchitectures`.
    static func config(gguf: GGUFMetadata) throws -> ModelConfig
    /// The configuration of an HF `config.json`.
    static func config(huggingFace: HFConfig, name: String) throws -> ModelConfig
    /// Tensors that must exist with these shapes, checked when the file is opened (before any is
    /// read): the embeddings, and `layer`'s first tensor for the first and last layers.
    static func globalTensors(_ config: ModelConfig, gguf: Bool, source: any WeightSource) -> [(String, [Int])]
    static func layerTensor(_ layer: Int, _ config: ModelConfig, gguf: Bool, source: any WeightSource) -> (String, [Int])
    /// The weights, every tensor checked against the shape `config` implies.
    static func load(_ reader: WeightReader, config: ModelConfig) throws -> ModelWeights
}

/// A registered family: its `ModelFamily` members as values (so the registry needs no existential
/// metatypes).
struct RegisteredFamily {
    let architecture: ArchitectureFamily
    let summary: String
    let modelTypes: [String]
    let huggingFaceClasses: [String]
    let ggufArchitectures: [String]
    let capabilities: ModelCapabilities
    let config: (GGUFMetadata) throws -> ModelConfig
    let configFromHuggingFace: (HFConfig, String) throws -> ModelConfig
    let globalTensors: (ModelConfig, Bool, any WeightSource) -> [(String, [Int])]
    let layerTensor: (Int, ModelConfig, Bool, any WeightSource) -> (String, [Int])
    let load: (WeightReader, ModelConfig) throws -> ModelWeights

    init<Family: ModelFamily>(_ family: Family.Type) {
        architecture = Family.architecture
        summary = Family.summary
        modelTypes = Family.modelTypes
        huggingFaceClasses = Family.huggingFaceClasses
        ggufArchitectures = Family.ggufArchitectures
        capabilities = Family.capabilities
        config = { try Family.config(gguf: $0) }
        configFromHuggingFace = { try Family.config(huggingFace: $0, name: $1) }
        globalTensors = { Family.globalTensors($0, gguf: $1, source: $2) }
        layerTensor = { Family.layerTensor($0, $1, gguf: $2, source: $3) }
        load = { try Family.load($0, config: $1) }
    }
}

/// The registry of model families: HF `model_type` / GGUF `general.architecture` → family.
public enum ModelFamilies {
    static var all: [RegisteredFamily] {
        [RegisteredFamily(LlamaFamily.self), RegisteredFamily(Qwen2Family.self), RegisteredFamily(Qwen3Family.self),
         RegisteredFamily(GPT2Family.self), RegisteredFamily(Gemma3Family.self)]
    }

    static func family(_ architecture: ArchitectureFamily) -> RegisteredFamily? {
        all.first { $0.architecture == architecture }
    }

    /// The families qkprobe runs, one line each: name, what it covers, HF model types, GGUF names.
    public static var supported: [(architecture: String, summary: String, modelTypes: [String], gguf: [String])] {
        all.map { ($0.architecture.rawValue, $0.summary, $0.modelTypes, $0.ggufArchitectures) }
    }

    /// The capabilities of a family, nil for one qkprobe does not know.
    public static func capabilities(of architecture: ArchitectureFamily) -> ModelCapabilities? {
        family(architecture)?.capabilities
    }

    /// Reads `general.architecture` and hands the metadata to its family.
    static func config(gguf: GGUFFile) throws -> ModelConfig {
        guard let arch = gguf.string("general.architecture") else {
            throw ModelFormatError(gguf.path, "missing metadata general.architecture")
        }
        guard let family = all.first(where: { $0.ggufArchitectures.contains(arch) }) else {
            let names = all.flatMap(\.ggufArchitectures).joined(separator: ", ")
            throw ModelFormatError(gguf.path, "unsupported architecture \(arch) (general.architecture; supported: \(names))")
        }
        return try family.config(GGUFMetadata(gguf: gguf, arch: arch))
    }

    /// Reads `model_type` (else the `architectures` class names) and hands the config to its family.
    static func config(configJSON url: URL) throws -> ModelConfig {
        let json = try HFConfig(url: url)
        let modelType = try json.optionalString("model_type")
        let classes = (json.object["architectures"] as? [Any])?.compactMap { $0 as? String } ?? []
        let family = modelType.flatMap { type in all.first { $0.modelTypes.contains(type) } }
            ?? all.first { family in classes.contains { family.huggingFaceClasses.contains($0) } }
        guard let family else {
            let found = [modelType.map { "model_type \($0)" }, classes.isEmpty ? nil : classes.joined(separator: ", ")]
                .compactMap { $0 }.joined(separator: "; ")
            throw ModelFormatError(url.path, "unsupported architecture (\(found.isEmpty ? "no model_type or architectures entry" : found)); supported model types: \(all.flatMap(\.modelTypes).joined(separator: ", "))")
        }
        let name = (json.object["_name_or_path"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            ?? url.deletingLastPathComponent().lastPathComponent
        let config = try family.configFromHuggingFace(json, name)
        try checkSpecialTokens(json, vocabularySize: config.vocabSize)
        return config
    }

    /// `bos_token_id`, `eos_token_id` (one or a list) and `pad_token_id` must be token ids.
    private static func checkSpecialTokens(_ json: HFConfig, vocabularySize: Int) throws {
        for key in ["bos_token_id", "eos_token_id", "pad_token_id"] {
            for id in try json.optionalInts(key) ?? [] where !(0 ..< vocabularySize).contains(id) {
                throw ModelFormatError(json.path, "\(key) \(id) is outside the vocabulary 0..<\(vocabularySize) (vocab_size)")
            }
        }
    }

    /// The tensors the family's `globalTensors` and `layerTensor` name must exist with their
    /// shapes, and the file must not hold a layer beyond the configuration's count.
    static func checkTensors(_ config: ModelConfig, source: any WeightSource) throws {
        guard let family = Self.family(config.architecture) else {
            throw ModelFormatError(source.path, "unknown model family \(config.architecture)")
        }
        guard !source.tensorNames.isEmpty else { throw ModelFormatError(source.path, "the file holds no tensors") }
        let gguf = WeightReader(source: source).isGGUF
        var expected = family.globalTensors(config, gguf, source)
        expected.append(family.layerTensor(0, config, gguf, source))
        expected.append(family.layerTensor(config.nLayers - 1, config, gguf, source))
        for (name, shape) in expected {
            guard let actual = source.shape(of: name) else {
                throw ModelFormatError(source.path, "missing tensor \(name) (expected shape \(shape) from the configuration)")
            }
            guard actual == shape else {
                throw ModelFormatError(source.path, "tensor \(name) has shape \(actual), but the configuration implies \(shape)")
            }
        }
        let beyond = family.layerTensor(config.nLayers, config, gguf, source).0
        if source.shape(of: beyond) != nil {
            throw ModelFormatError(source.path, "the file has tensors for more than \(config.nLayers) layers (\(beyond)); the layer count in the configuration is wrong")
        }
    }

    /// A readable name for a GGUF file: its file name without a quantisation label
    /// ("SmolLM2-135M-Instruct.Q4_1.gguf" → "SmolLM2-135M-Instruct"), which is how people name
    /// and find models; llama.cpp's `general.name` is made from the converter's folder name and
    /// often reads worse ("Smollm2 135M 8k Lc100K Mix1 Ep2"). A generic file name ("model.gguf")
    /// gives way to `general.name`, then to the folder's name.
    static func displayName(gguf: GGUFFile) -> String {
        let url = URL(fileURLWithPath: gguf.path)
        var stem = url.deletingPathExtension().lastPathComponent
        for separator in [".", "-", "_"] {
            guard let range = stem.range(of: separator, options: .backwards) else { continue }
            let label = stem[range.upperBound...].uppercased()
            if isQuantisationLabel(label) {
                stem = String(stem[..<range.lowerBound])
                break
            }
        }
        let generic: Set<String> = ["", "model", "ggml-model", "ggml_model"]
        if !generic.contains(stem.lowercased()) { return stem }
        if let name = gguf.string("general.name"), !name.isEmpty { return name }
        return url.deletingLastPathComponent().lastPathComponent
    }

    private static func isQuantisationLabel(_ label: String) -> Bool {
        if ["F32", "F16", "BF16", "FP16", "FP32"].contains(label) { return true }
        let body = label.hasPrefix("IQ") ? label.dropFirst(2) : label.hasPrefix("Q") ? label.dropFirst() : Substring("")
        return body.first?.isNumber == true && body.allSatisfy { $0.isNumber || $0.isLetter || $0 == "_" }
    }
}

/// A GGUF file's metadata for one architecture: `int("block_count")` reads `{arch}.block_count`,
/// with errors that name the file and the full key.
struct GGUFMetadata {
    let gguf: GGUFFile
    let arch: String
    var path: String { gguf.path }

    func key(_ suffix: String) -> String { "\(arch).\(suffix)" }

    func int(_ suffix: String) throws -> Int {
        guard let value = try optionalInt(suffix) else { throw ModelFormatError(path, "missing metadata \(key(suffix))") }
        return value
    }

    func optionalInt(_ suffix: String) throws -> Int? {
        guard let value = gguf.value(key(suffix)) else { return nil }
        guard let int = value.intValue else { throw ModelFormatError(path, "metadata \(key(suffix)) is \(value.type), expected an integer") }
        return int
    }

    func optionalFloat(_ suffix: String) throws -> Float? {
        guard let value = gguf.value(key(suffix)) else { return nil }
        guard let float = value.floatValue else { throw ModelFormatError(path, "metadata \(key(suffix)) is \(value.type), expected a number") }
        return float
    }

    func optionalString(_ suffix: String) throws -> String? {
        guard let value = gguf.value(key(suffix)) else { return nil }
        guard let string = value.stringValue else { throw ModelFormatError(path, "metadata \(key(suffix)) is \(value.type), expected a string") }
        return string
    }

    /// The hyper-parameters llama.cpp writes under the same keys for every family. `rotary`: read
    /// and check the rotary keys (else the family has learned positions).
    func standardConfig(_ architecture: ArchitectureFamily, normEpsKey: String, rotary: Bool) throws -> ModelConfig {
        let keys = ConfigKeyNames.gguf(arch, normEps: normEpsKey)
        let dModel = try int("embedding_length")
        let nHeads = try int("attention.head_count")
        guard nHeads > 0 else { throw ModelFormatError(path, "metadata \(keys.heads) is \(nHeads), must be positive") }
        let nKVHeads = try optionalInt("attention.head_count_kv") ?? nHeads
        let dHead = try optionalInt("attention.key_length") ?? dModel / nHeads
        if let valueLength = try optionalInt("attention.value_length"), valueLength != dHead {
            throw ModelFormatError(path, "metadata \(key("attention.value_length")) \(valueLength) differs from the key length \(dHead); qkprobe needs them equal")
        }
        guard let eps = try optionalFloat(normEpsKey) else { throw ModelFormatError(path, "missing metadata \(keys.normEps)") }

        let vocabSize: Int
        if let embedding = gguf.shape(of: "token_embd.weight"), embedding.count == 2 {
            vocabSize = embedding[0]
        } else if let tokens = gguf.arrayCount("tokenizer.ggml.tokens") {
            vocabSize = tokens
        } else {
            throw ModelFormatError(path, "cannot tell the vocabulary size: no token_embd.weight and no tokenizer.ggml.tokens")
        }

        var config = ModelConfig(
            architecture: architecture, name: ModelFamilies.displayName(gguf: gguf),
            nLayers: try int("block_count"), dModel: dModel, nHeads: nHeads, nKVHeads: nKVHeads, dHead: dHead,
            dFF: try int("feed_forward_length"), vocabSize: vocabSize, contextLength: try int("context_length"),
            normEps: eps, ropeTheta: 0,
            tieWordEmbeddings: gguf.tensorInfo("output.weight") == nil,
            attentionBias: gguf.tensorInfo("blk.0.attn_q.bias") != nil || gguf.tensorInfo("blk.0.attn_qkv.bias") != nil,
            slidingWindow: try optionalInt("attention.sliding_window"))
        config = try config.validated(path: path, keys: keys)
        try checkSpecialTokens(vocabularySize: vocabSize)
        if rotary {
            config.ropeTheta = try optionalFloat("rope.freq_base") ?? 10000
            config.ropeScaling = try ropeScaling(contextLength: config.contextLength)
            if let dimensions = try optionalInt("rope.dimension_count"), dimensions != dHead {
                let problem = dimensions > 0 && dimensions < dHead && dimensions % 2 == 0
                    ? "partial rotary embedding (\(dimensions) of \(dHead) dimensions) is not supported"
                    : "must equal the head width \(dHead)"
                throw ModelFormatError(path, "metadata \(key("rope.dimension_count")) is \(dimensions): \(problem)")
            }
            try config.validatedRotary(path: path, keys: keys)
        }
        return config
    }

    /// `{arch}.rope.scaling.*` (linear, yarn) or the `rope_freqs.weight` tensor (Llama 3).
    private func ropeScaling(contextLength: Int) throws -> RopeScaling? {
        let type = try optionalString("rope.scaling.type") ?? "none"
        let divisors = gguf.tensorInfo("rope_freqs.weight") != nil
        switch type {
        case "none":
            return divisors ? .frequencyDivisors : nil
        case "linear", "yarn":
            guard !divisors else {
                throw ModelFormatError(path, "both \(key("rope.scaling.type")) \(type) and a rope_freqs.weight tensor; which scaling applies is unclear")
            }
            guard let factor = try optionalFloat("rope.scaling.factor") else {
                throw ModelFormatError(path, "missing metadata \(key("rope.scaling.factor")) for rope scaling \(type)")
            }
            if type == "linear" { return .linear(factor: factor) }
            let original = try optionalInt("rope.scaling.original_context_length") ?? contextLength
            let attentionFactor = factor <= 1 ? 1 : Float(0.1 * log(Double(factor)) + 1)
            return .yarn(factor: factor, originalContextLength: original,
                         betaFast: try optionalFloat("rope.scaling.yarn_beta_fast") ?? 32,
                         betaSlow: try optionalFloat("rope.scaling.yarn_beta_slow") ?? 1,
                         attentionFactor: attentionFactor, truncate: true)
        default:
            throw ModelFormatError(path, "rope scaling \(type) (\(key("rope.scaling.type"))) is not supported (supported: linear, yarn, llama3 as rope_freqs.weight)")
        }
    }

    /// The tokenizer's special token ids must be token ids.
    private func checkSpecialTokens(vocabularySize: Int) throws {
        let tokens = gguf.arrayCount("tokenizer.ggml.tokens")
        for kind in ["bos", "eos", "unknown", "padding", "eot", "eom"] {
            let key = "tokenizer.ggml.\(kind)_token_id"
            guard let value = gguf.value(key) else { continue }
            guard let id = value.intValue else { throw ModelFormatError(path, "metadata \(key) is \(value.type), expected an integer") }
            let limit = min(vocabularySize, tokens ?? vocabularySize)
            guard (0 ..< limit).contains(id) else {
                throw ModelFormatError(path, "metadata \(key) is \(id), outside the vocabulary 0..<\(limit)")
            }
        }
    }
}

/// HF config keys that several families read the same way.
extension HFConfig {
    /// `rope_theta` at the top level (transformers 4) or inside `rope_parameters` (transformers 5).
    func ropeTheta() throws -> Float? {
        if let theta = try optionalFloat("rope_theta") { return theta }
        if let parameters = try optionalObject("rope_parameters") {
            return try optionalFloat("rope_theta", in: parameters)
        }
        return nil
    }

    /// `rope_scaling` (transformers 4) or `rope_parameters` (transformers 5): its `rope_type` (or
    /// the older `type`) and parameters. Types the runtime does not compute are refused by name.
    func ropeScaling(contextLength: Int, supported: [String]) throws -> RopeScaling? {
        var parameters: [String: Any]?
        for key in ["rope_scaling", "rope_parameters"] {
            if let object = try optionalObject(key), object["rope_type"] != nil || object["type"] != nil {
                parameters = object
                break
            }
        }
        guard let parameters else { return nil }
        let type = try optionalString("rope_type", in: parameters) ?? optionalString("type", in: parameters) ?? "default"
        if type == "default" { return nil }
        guard supported.contains(type) else {
            throw ModelFormatError(path, "rope_type \(type) (scaled rotary embeddings) is not supported (supported: \(supported.joined(separator: ", ")))")
        }
        func required(_ key: String) throws -> Float {
            guard let value = try optionalFloat(key, in: parameters) else {
                throw ModelFormatError(path, "rope_type \(type) needs \(key)")
            }
            return value
        }
        switch type {
        case "linear":
            return .linear(factor: try required("factor"))
        case "llama3":
            guard let original = try optionalInt("original_max_position_embeddings", in: parameters) else {
                throw ModelFormatError(path, "rope_type llama3 needs original_max_position_embeddings")
            }
            return .llama3(factor: try required("factor"), lowFrequencyFactor: try required("low_freq_factor"),
                           highFrequencyFactor: try required("high_freq_factor"), originalContextLength: original)
        default: // yarn, as transformers' _compute_yarn_parameters reads it
            let original = try optionalInt("original_max_position_embeddings", in: parameters)
                ?? optionalInt("original_max_position_embeddings") ?? contextLength
            let factor = try optionalFloat("factor", in: parameters) ?? Float(contextLength) / Float(original)
            func mscale(_ scale: Double, _ m: Double) -> Double { scale <= 1 ? 1 : 0.1 * m * log(scale) + 1 }
            var attentionFactor = try optionalDouble("attention_factor", in: parameters)
            if attentionFactor == nil {
                let m = try optionalDouble("mscale", in: parameters), all = try optionalDouble("mscale_all_dim", in: parameters)
                if let m, let all, m != 0, all != 0 {
                    attentionFactor = mscale(Double(factor), m) / mscale(Double(factor), all)
                } else {
                    attentionFactor = mscale(Double(factor), 1)
                }
            }
            // transformers: `get("beta_fast") or 32`, so 0 and null both mean the default.
            let betaFast = try optionalFloat("beta_fast", in: parameters).flatMap { $0 == 0 ? nil : $0 } ?? 32
            let betaSlow = try optionalFloat("beta_slow", in: parameters).flatMap { $0 == 0 ? nil : $0 } ?? 1
            return .yarn(factor: factor, originalContextLength: original, betaFast: betaFast, betaSlow: betaSlow,
                         attentionFactor: Float(attentionFactor!), truncate: try optionalBool("truncate", in: parameters) ?? true)
        }
    }

    /// Refuses `partial_rotary_factor` below 1: the runtime rotates every dimension.
    func refusePartialRotary() throws {
        for dictionary in [object, try optionalObject("rope_parameters")].compactMap({ $0 }) {
            if let factor = try optionalDouble("partial_rotary_factor", in: dictionary), factor != 1 {
                throw ModelFormatError(path, "partial_rotary_factor \(factor): partial rotary embedding is not supported")
            }
        }
    }

    /// Refuses an activation other than the one the family computes.
    func requireActivation(_ key: String, default defaultValue: String, accepted: [String]) throws {
        let activation = try optionalString(key) ?? defaultValue
        guard accepted.contains(activation) else {
            throw ModelFormatError(path, "\(key) \(activation) is not supported (this family computes \(accepted.joined(separator: " or ")))")
        }
    }
}

// MARK: - Opening a model

/// A model's weights and configuration, opened from a `ModelLocation` and checked: the
/// configuration by its family, the tensors it implies against the file's.
public struct OpenedModel {
    public let location: ModelLocation
    public let config: ModelConfig
    /// A `GGUFFile` or a `SafetensorsCheckpoint`.
    public let weights: any WeightSource

    /// The GGUF file, whose metadata also holds the tokenizer; nil for a model folder.
    public var gguf: GGUFFile? { weights as? GGUFFile }

    /// The folder's `tokenizer.json`; nil for a GGUF file.
    public var tokenizerJSON: URL? {
        if case .huggingFaceFolder(let url) = location { url.appendingPathComponent(ModelLocation.tokenizerFileName) } else { nil }
    }

    /// What the family's forward pass computes; nil for a configuration made by hand for a family
    /// qkprobe does not know.
    public var capabilities: ModelCapabilities? { ModelFamilies.capabilities(of: config.architecture) }

    public init(location: ModelLocation, config: ModelConfig, weights: any WeightSource) {
        self.location = location
        self.config = config
        self.weights = weights
    }

    /// Opens what `path` points at.
    public static func open(path: String) throws -> OpenedModel {
        try ModelLocation(path: path).open()
    }
}

extension ModelLocation {
    /// Opens the weights, reads the configuration through its family and checks the two agree.
    public func open() throws -> OpenedModel {
        let opened: OpenedModel
        switch self {
        case .gguf(let url):
            let gguf = try GGUFFile(url: url)
            opened = OpenedModel(location: self, config: try ModelFamilies.config(gguf: gguf), weights: gguf)
        case .huggingFaceFolder(let url):
            let config = try ModelFamilies.config(configJSON: url.appendingPathComponent(Self.configFileName))
            opened = OpenedModel(location: self, config: config, weights: try SafetensorsCheckpoint(url: url))
        }
        try ModelFamilies.checkTensors(opened.config, source: opened.weights)
        return opened
    }
}

extension ModelConfig {
    /// The configuration of a GGUF file, read by its family.
    public init(gguf: GGUFFile) throws {
        self = try ModelFamilies.config(gguf: gguf)
    }

    /// The configuration of an HF `config.json`, read by its family.
    public init(configJSON url: URL) throws {
        self = try ModelFamilies.config(configJSON: url)
    }
}
