import Foundation

/// The transformer families qkprobe can run.
public enum ArchitectureFamily: String, Sendable, Codable, CaseIterable {
    case llama, qwen2, qwen3, gpt2, gemma3
}

/// The hyper-parameters a forward pass needs, read from a GGUF file's metadata or an HF `config.json`.
public struct ModelConfig: Sendable, Equatable, Codable {
    public var architecture: ArchitectureFamily
    public var name: String
    public var nLayers: Int
    public var dModel: Int
    public var nHeads: Int
    public var nKVHeads: Int
    public var dHead: Int
    public var dFF: Int
    public var vocabSize: Int
    public var contextLength: Int
    /// RMSNorm epsilon (LayerNorm epsilon for GPT-2).
    public var normEps: Float
    /// Rotary base frequency; 0 for GPT-2, which has learned absolute positions instead.
    public var ropeTheta: Float
    /// The LM head reuses the token embedding matrix.
    public var tieWordEmbeddings: Bool
    /// The q, k and v projections have biases (Qwen2, GPT-2).
    public var attentionBias: Bool
    public var slidingWindow: Int? = nil
    public var slidingWindowPattern: Int? = nil
    public var localRopeTheta: Float? = nil
    public var queryPreAttentionScalar: Float? = nil

    public init(architecture: ArchitectureFamily, name: String, nLayers: Int, dModel: Int, nHeads: Int,
                nKVHeads: Int, dHead: Int, dFF: Int, vocabSize: Int, contextLength: Int, normEps: Float,
                ropeTheta: Float, tieWordEmbeddings: Bool, attentionBias: Bool) {
        self.architecture = architecture
        self.name = name
        self.nLayers = nLayers
        self.dModel = dModel
        self.nHeads = nHeads
        self.nKVHeads = nKVHeads
        self.dHead = dHead
        self.dFF = dFF
        self.vocabSize = vocabSize
        self.contextLength = contextLength
        self.normEps = normEps
        self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
    }

    /// Checks the relations a forward pass relies on, so a bad file fails here and not in a kernel.
    func validated(path: String) throws -> ModelConfig {
        let positive: [(String, Int)] = [
            ("layer count", nLayers), ("model width", dModel), ("head count", nHeads),
            ("KV head count", nKVHeads), ("head width", dHead), ("feed-forward width", dFF),
            ("vocabulary size", vocabSize), ("context length", contextLength),
        ]
        for (what, value) in positive where value <= 0 {
            throw ModelFormatError(path, "\(what) is \(value), must be positive")
        }
        guard nHeads % nKVHeads == 0 else {
            throw ModelFormatError(path, "head count \(nHeads) is not a multiple of the KV head count \(nKVHeads)")
        }
        guard normEps.isFinite, normEps > 0 else {
            throw ModelFormatError(path, "norm epsilon \(normEps) must be positive")
        }
        return self
    }
}

// MARK: - From GGUF metadata

extension ModelConfig {
    /// Reads `general.architecture` and the `{arch}.*` hyper-parameters. The vocabulary size is the
    /// token embedding's row count (what the logits have), else the tokenizer's token count;
    /// embeddings are tied when the file has no `output.weight`.
    public init(gguf: GGUFFile) throws {
        let path = gguf.path
        guard let arch = gguf.string("general.architecture") else {
            throw ModelFormatError(path, "missing metadata general.architecture")
        }
        guard let family = ArchitectureFamily(ggufArchitecture: arch) else {
            throw ModelFormatError(path, "unsupported architecture \(arch) (supported: \(ArchitectureFamily.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        func required(_ suffix: String) throws -> Int {
            let key = "\(arch).\(suffix)"
            guard let value = gguf.value(key) else { throw ModelFormatError(path, "missing metadata \(key)") }
            guard let int = value.intValue else { throw ModelFormatError(path, "metadata \(key) is \(value.type), expected an integer") }
            return int
        }
        func optionalFloat(_ suffix: String) throws -> Float? {
            let key = "\(arch).\(suffix)"
            guard let value = gguf.value(key) else { return nil }
            guard let float = value.floatValue else { throw ModelFormatError(path, "metadata \(key) is \(value.type), expected a number") }
            return float
        }

        let dModel = try required("embedding_length")
        let nHeads = try required("attention.head_count")
        guard nHeads > 0 else { throw ModelFormatError(path, "metadata \(arch).attention.head_count is \(nHeads), must be positive") }
        let nKVHeads = gguf.value("\(arch).attention.head_count_kv") == nil ? nHeads : try required("attention.head_count_kv")
        let dHead = gguf.value("\(arch).attention.key_length") == nil ? dModel / nHeads : try required("attention.key_length")

        let epsKey = family == .gpt2 ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon"
        guard let eps = try optionalFloat(epsKey) else {
            throw ModelFormatError(path, "missing metadata \(arch).\(epsKey)")
        }
        let ropeTheta: Float = family == .gpt2 ? 0 : try optionalFloat("rope.freq_base") ?? 10000
        // Scaled rotary embeddings change every frequency; ModelConfig cannot describe them, and
        // ignoring them would give silently wrong q/k, so such files are refused.
        if let scaling = gguf.string("\(arch).rope.scaling.type"), scaling != "none" {
            throw ModelFormatError(path, "rope scaling \(scaling) (\(arch).rope.scaling.type) is not supported")
        }
        if gguf.tensorInfo("rope_freqs.weight") != nil {
            throw ModelFormatError(path, "per-frequency rope factors (rope_freqs.weight, Llama 3 style) are not supported")
        }

        let vocabSize: Int
        if let embedding = gguf.shape(of: "token_embd.weight"), embedding.count == 2 {
            vocabSize = embedding[0]
        } else if let tokens = gguf.arrayCount("tokenizer.ggml.tokens") {
            vocabSize = tokens
        } else {
            throw ModelFormatError(path, "cannot tell the vocabulary size: no token_embd.weight and no tokenizer.ggml.tokens")
        }

        self.init(
            architecture: family,
            name: gguf.string("general.name") ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
            nLayers: try required("block_count"),
            dModel: dModel, nHeads: nHeads, nKVHeads: nKVHeads, dHead: dHead,
            dFF: try required("feed_forward_length"),
            vocabSize: vocabSize,
            contextLength: try required("context_length"),
            normEps: eps, ropeTheta: ropeTheta,
            tieWordEmbeddings: gguf.tensorInfo("output.weight") == nil,
            attentionBias: gguf.tensorInfo("blk.0.attn_q.bias") != nil || gguf.tensorInfo("blk.0.attn_qkv.bias") != nil)
        if family == .gemma3 {
            slidingWindow = gguf.value("gemma3.attention.sliding_window")?.intValue
            slidingWindowPattern = 6
            localRopeTheta = 10000
            queryPreAttentionScalar = Float(dHead)
        }
        self = try validated(path: path)
    }
}

extension ArchitectureFamily {
    /// The family of a GGUF `general.architecture` name.
    public init?(ggufArchitecture name: String) {
        switch name {
        case "llama": self = .llama
        case "qwen2": self = .qwen2
        case "qwen3": self = .qwen3
        case "gpt2": self = .gpt2
        case "gemma3": self = .gemma3
        default: return nil
        }
    }

    /// The family of an HF `architectures` entry.
    public init?(huggingFaceArchitecture name: String) {
        switch name {
        case "LlamaForCausalLM", "MistralForCausalLM": self = .llama
        case "Qwen2ForCausalLM": self = .qwen2
        case "Qwen3ForCausalLM": self = .qwen3
        case "GPT2LMHeadModel": self = .gpt2
        default: return nil
        }
    }
}

// MARK: - From a Hugging Face config.json

extension ModelConfig {
    /// Reads an HF `config.json`. Optional keys take the defaults of the matching transformers
    /// configuration class, so a config that transformers accepts means the same thing here.
    public init(configJSON url: URL) throws {
        let path = url.path
        let json = try HFConfig(url: url)

        let architectures = (json.object["architectures"] as? [Any])?.compactMap { $0 as? String } ?? []
        guard let (family, className) = architectures.lazy.compactMap({ name in
            ArchitectureFamily(huggingFaceArchitecture: name).map { ($0, name) }
        }).first else {
            let found = architectures.isEmpty ? "no architectures entry" : architectures.joined(separator: ", ")
            throw ModelFormatError(path, "unsupported architecture (\(found)); supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, GPT2LMHeadModel")
        }
        let name = (json.object["_name_or_path"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            ?? url.deletingLastPathComponent().lastPathComponent

        if family == .gpt2 {
            let dModel = try json.int("n_embd")
            let nHeads = try json.int("n_head")
            guard nHeads > 0 else { throw ModelFormatError(path, "n_head is \(nHeads), must be positive") }
            self.init(
                architecture: .gpt2, name: name,
                nLayers: try json.int("n_layer"), dModel: dModel,
                nHeads: nHeads, nKVHeads: nHeads, dHead: dModel / nHeads,
                dFF: try json.optionalInt("n_inner") ?? 4 * dModel,
                vocabSize: try json.int("vocab_size"),
                contextLength: try json.int("n_positions"),
                normEps: try json.optionalFloat("layer_norm_epsilon") ?? 1e-5,
                ropeTheta: 0,
                // GPT2LMHeadModel always ties its LM head to the token embedding.
                tieWordEmbeddings: true,
                attentionBias: true)
            self = try validated(path: path)
            return
        }

        if let ropeType = json.ropeType(), ropeType != "default" {
            throw ModelFormatError(path, "rope_type \(ropeType) (scaled rotary embeddings) is not supported")
        }
        let dModel = try json.int("hidden_size")
        let nHeads = try json.int("num_attention_heads")
        guard nHeads > 0 else { throw ModelFormatError(path, "num_attention_heads is \(nHeads), must be positive") }
        // Qwen3Config defaults head_dim to 128; the others derive it from the width.
        let defaultHeadDim = family == .qwen3 ? 128 : dModel / nHeads
        let defaultContext: Int = switch (family, className) {
        case (.qwen2, _), (.qwen3, _): 32768
        case (_, "MistralForCausalLM"): 4096 * 32
        default: 2048
        }
        self.init(
            architecture: family, name: name,
            nLayers: try json.int("num_hidden_layers"),
            dModel: dModel, nHeads: nHeads,
            nKVHeads: try json.optionalInt("num_key_value_heads") ?? nHeads,
            dHead: try json.optionalInt("head_dim") ?? defaultHeadDim,
            dFF: try json.int("intermediate_size"),
            vocabSize: try json.int("vocab_size"),
            contextLength: try json.optionalInt("max_position_embeddings") ?? defaultContext,
            normEps: try json.optionalFloat("rms_norm_eps") ?? 1e-6,
            ropeTheta: try json.ropeTheta() ?? 10000,
            tieWordEmbeddings: try json.optionalBool("tie_word_embeddings") ?? false,
            // Qwen2's q/k/v projections always have biases; Llama and Qwen3 make it a setting.
            attentionBias: family == .qwen2 ? true : try json.optionalBool("attention_bias") ?? false)
        self = try validated(path: path)
    }
}

/// A parsed `config.json` with typed look-ups whose errors name the file and key.
struct HFConfig {
    let path: String
    let object: [String: Any]

    init(url: URL) throws {
        path = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelFormatError(url.path, "cannot read file: \(error.localizedDescription)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelFormatError(url.path, "not a JSON object")
        }
        self.object = object
    }

    func int(_ key: String) throws -> Int {
        guard let value = try optionalInt(key) else { throw ModelFormatError(path, "missing key \(key)") }
        return value
    }

    /// JSON numbers arrive as NSNumber; accept integral values only, and reject booleans.
    func optionalInt(_ key: String) throws -> Int? {
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        guard let number = raw as? NSNumber, !isJSONBool(number),
              let value = Int(exactly: number.doubleValue) else {
            throw ModelFormatError(path, "key \(key) is \(raw), expected an integer")
        }
        return value
    }

    func optionalFloat(_ key: String, in dictionary: [String: Any]? = nil) throws -> Float? {
        guard let raw = (dictionary ?? object)[key], !(raw is NSNull) else { return nil }
        guard let number = raw as? NSNumber, !isJSONBool(number) else {
            throw ModelFormatError(path, "key \(key) is \(raw), expected a number")
        }
        return number.floatValue
    }

    func optionalBool(_ key: String) throws -> Bool? {
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        guard let number = raw as? NSNumber, isJSONBool(number) else {
            throw ModelFormatError(path, "key \(key) is \(raw), expected true or false")
        }
        return number.boolValue
    }

    /// The rotary scaling type of `rope_scaling` (transformers 4) or `rope_parameters`
    /// (transformers 5), under `rope_type` or the older `type`; nil when there is none.
    func ropeType() -> String? {
        for key in ["rope_scaling", "rope_parameters"] {
            guard let parameters = object[key] as? [String: Any] else { continue }
            if let type = (parameters["rope_type"] ?? parameters["type"]) as? String { return type }
        }
        return nil
    }

    /// `rope_theta` at the top level (transformers 4) or inside `rope_parameters` (transformers 5).
    func ropeTheta() throws -> Float? {
        if let theta = try optionalFloat("rope_theta") { return theta }
        if let parameters = object["rope_parameters"] as? [String: Any] {
            return try optionalFloat("rope_theta", in: parameters)
        }
        return nil
    }
}
