import Foundation
import ModelFormats

/// A model family's name as runs record it (`llama`, `qwen2`, ...). Each family file declares its
/// own (`extension ArchitectureFamily { static let llama = ... }`), so adding one edits no list here.
public struct ArchitectureFamily: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// Scaled rotary embeddings: how the inverse frequencies θ^(-2i/d) are changed for a longer context.
public enum RopeScaling: Sendable, Equatable, Codable {
    /// Every frequency divided by `factor` (position interpolation).
    case linear(factor: Float)
    /// Llama 3.1's: low frequencies divided by `factor`, high ones kept, a smooth ramp between.
    case llama3(factor: Float, lowFrequencyFactor: Float, highFrequencyFactor: Float, originalContextLength: Int)
    /// YaRN: a ramp between interpolated and original frequencies over the dimensions, and cos/sin
    /// multiplied by `attentionFactor`.
    case yarn(factor: Float, originalContextLength: Int, betaFast: Float, betaSlow: Float, attentionFactor: Float, truncate: Bool)
    /// Per-frequency divisors stored as the tensor `rope_freqs.weight` (llama.cpp's form of Llama 3 scaling).
    case frequencyDivisors

    /// The name transformers uses (`rope_type`).
    public var typeName: String {
        switch self {
        case .linear: "linear"
        case .llama3, .frequencyDivisors: "llama3"
        case .yarn: "yarn"
        }
    }
}

/// The hyper-parameters a forward pass needs, read by a model family from a GGUF file's metadata or
/// an HF `config.json` (see ModelFamily.swift).
public struct ModelConfig: Sendable, Equatable, Codable {
    public var architecture: ArchitectureFamily
    /// A readable name for messages and run files (see `ModelFamilies.displayName`).
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
    /// Rotary base frequency; 0 for families with learned absolute positions.
    public var ropeTheta: Float
    /// The LM head reuses the token embedding matrix.
    public var tieWordEmbeddings: Bool
    /// The q, k and v projections have biases (Qwen2, GPT-2).
    public var attentionBias: Bool
    /// Scaled rotary embeddings; nil for plain rotary (or none).
    public var ropeScaling: RopeScaling?
    /// Each query sees only the last `slidingWindow` positions, its own included (Mistral, Gemma's
    /// local layers); nil for full causal attention.
    public var slidingWindow: Int?
    /// The layers that attend over `slidingWindow`, the others attending to every earlier position
    /// (Gemma 3: five of every six); nil for every layer.
    public var slidingWindowLayers: [Int]?
    /// The rotary base of the sliding-window layers where it differs from `ropeTheta` (Gemma 3's
    /// local base); those layers take no rotary scaling.
    public var localRopeTheta: Float?
    /// Attention scores are scaled by this^-1/2 instead of d_head^-1/2 (Gemma's `query_pre_attn_scalar`).
    public var queryPreAttentionScalar: Float?

    public init(architecture: ArchitectureFamily, name: String, nLayers: Int, dModel: Int, nHeads: Int,
                nKVHeads: Int, dHead: Int, dFF: Int, vocabSize: Int, contextLength: Int, normEps: Float,
                ropeTheta: Float, tieWordEmbeddings: Bool, attentionBias: Bool,
                ropeScaling: RopeScaling? = nil, slidingWindow: Int? = nil, slidingWindowLayers: [Int]? = nil,
                localRopeTheta: Float? = nil, queryPreAttentionScalar: Float? = nil) {
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
        self.ropeScaling = ropeScaling
        self.slidingWindow = slidingWindow
        self.slidingWindowLayers = slidingWindowLayers
        self.localRopeTheta = localRopeTheta
        self.queryPreAttentionScalar = queryPreAttentionScalar
    }

    /// The window of `layer`: the positions a query there sees, its own included; nil for all.
    public func slidingWindow(layer: Int) -> Int? {
        guard let slidingWindow else { return nil }
        let slides = slidingWindowLayers?.contains(layer) ?? true
        return slides ? slidingWindow : nil
    }

    /// The softmax scale of attention scores.
    public var attentionScale: Float {
        queryPreAttentionScalar.map { Float(1 / Double($0).squareRoot()) } ?? 1 / Float(dHead).squareRoot()
    }
}

// MARK: - Validation

extension ModelConfig {
    /// Sizes beyond these are refused as absurd: far beyond any released model, and small enough
    /// that every product the forward pass forms (rows × widths, vocab × width) fits in an Int.
    static let limits = (layers: 1 << 12, width: 1 << 17, heads: 1 << 12, headWidth: 1 << 12,
                         vocabulary: 1 << 24, context: 1 << 24)

    /// The one check of a configuration, whatever file and family it came from: every size positive
    /// and in range, the relations the forward pass relies on, and the rotary settings. Errors
    /// name `path` and the field with the family's own key name where it has one (`keys`).
    public func validated(path: String, keys: ConfigKeyNames) throws -> ModelConfig {
        let sizes: [(String, Int, Int)] = [
            (keys.layers, nLayers, Self.limits.layers), (keys.width, dModel, Self.limits.width),
            (keys.heads, nHeads, Self.limits.heads), (keys.kvHeads, nKVHeads, Self.limits.heads),
            (keys.headWidth, dHead, Self.limits.headWidth), (keys.feedForward, dFF, Self.limits.width * 8),
            (keys.vocabulary, vocabSize, Self.limits.vocabulary), (keys.context, contextLength, Self.limits.context),
        ]
        for (key, value, limit) in sizes {
            guard value > 0 else { throw ModelFormatError(path, "\(key) is \(value), must be positive") }
            guard value <= limit else { throw ModelFormatError(path, "\(key) is \(value), more than the \(limit) qkprobe accepts") }
        }
        guard contextLength >= 2 else {
            throw ModelFormatError(path, "\(keys.context) is \(contextLength): a prompt and its answer need at least 2 positions")
        }
        guard nHeads % nKVHeads == 0 else {
            throw ModelFormatError(path, "\(keys.heads) \(nHeads) is not a multiple of the KV head count \(nKVHeads) (\(keys.kvHeads))")
        }
        guard nHeads * dHead <= Self.limits.width * 4 else {
            throw ModelFormatError(path, "\(keys.heads) \(nHeads) × head width \(dHead) is \(nHeads * dHead), far beyond \(keys.width) \(dModel)")
        }
        guard normEps.isFinite, normEps > 0, normEps < 1 else {
            throw ModelFormatError(path, "\(keys.normEps) is \(normEps), must be positive and below 1")
        }
        if let slidingWindow, slidingWindow <= 0 {
            throw ModelFormatError(path, "\(keys.slidingWindow) is \(slidingWindow), must be positive")
        }
        if let layers = slidingWindowLayers {
            guard slidingWindow != nil else {
                throw ModelFormatError(path, "sliding-window layers are listed but \(keys.slidingWindow) is not set")
            }
            if let bad = layers.first(where: { !(0 ..< nLayers).contains($0) }) {
                throw ModelFormatError(path, "sliding-window layer \(bad) is outside the \(nLayers) layers (\(keys.layers))")
            }
        }
        if let scalar = queryPreAttentionScalar, !(scalar.isFinite && scalar > 0) {
            throw ModelFormatError(path, "query_pre_attn_scalar is \(scalar), must be a positive finite number")
        }
        return self
    }

    /// The rotary checks, for families with rotary embedding.
    func validatedRotary(path: String, keys: ConfigKeyNames) throws {
        guard ropeTheta.isFinite, ropeTheta > 1 else {
            throw ModelFormatError(path, "\(keys.ropeTheta) is \(ropeTheta), must be a finite number above 1")
        }
        if let localRopeTheta, !(localRopeTheta.isFinite && localRopeTheta > 1) {
            throw ModelFormatError(path, "the local rotary base (sliding-window layers) is \(localRopeTheta), must be a finite number above 1")
        }
        guard dHead % 2 == 0 else {
            throw ModelFormatError(path, "head width \(dHead) is odd; rotary embedding turns pairs of dimensions")
        }
        func positive(_ name: String, _ value: Float) throws {
            guard value.isFinite, value > 0 else {
                throw ModelFormatError(path, "\(keys.ropeScaling) \(name) is \(value), must be a positive finite number")
            }
        }
        switch ropeScaling {
        case nil, .frequencyDivisors: break
        case let .linear(factor):
            try positive("factor", factor)
        case let .llama3(factor, low, high, original):
            try positive("factor", factor)
            try positive("low_freq_factor", low)
            try positive("high_freq_factor", high)
            guard high > low else {
                throw ModelFormatError(path, "\(keys.ropeScaling) high_freq_factor \(high) must exceed low_freq_factor \(low)")
            }
            guard original > 0 else {
                throw ModelFormatError(path, "\(keys.ropeScaling) original_max_position_embeddings is \(original), must be positive")
            }
        case let .yarn(factor, original, betaFast, betaSlow, attentionFactor, _):
            try positive("factor", factor)
            try positive("beta_fast", betaFast)
            try positive("beta_slow", betaSlow)
            try positive("attention_factor", attentionFactor)
            guard original > 0 else {
                throw ModelFormatError(path, "\(keys.ropeScaling) original_max_position_embeddings is \(original), must be positive")
            }
        }
    }
}

/// The names a family's files give each hyper-parameter, so that an error says which key is wrong.
public struct ConfigKeyNames: Sendable {
    public var layers, width, heads, kvHeads, headWidth, feedForward, vocabulary, context, normEps: String
    public var ropeTheta, ropeScaling, slidingWindow: String

    /// llama.cpp's GGUF keys for architecture `arch` (shared by every family it writes).
    public static func gguf(_ arch: String, normEps: String = "attention.layer_norm_rms_epsilon") -> ConfigKeyNames {
        ConfigKeyNames(
            layers: "\(arch).block_count", width: "\(arch).embedding_length", heads: "\(arch).attention.head_count",
            kvHeads: "\(arch).attention.head_count_kv", headWidth: "\(arch).attention.key_length",
            feedForward: "\(arch).feed_forward_length", vocabulary: "vocabulary size (token_embd.weight rows)",
            context: "\(arch).context_length", normEps: "\(arch).\(normEps)",
            ropeTheta: "\(arch).rope.freq_base", ropeScaling: "\(arch).rope.scaling", slidingWindow: "\(arch).attention.sliding_window")
    }

    /// transformers' names for Llama-like configurations.
    public static let huggingFace = ConfigKeyNames(
        layers: "num_hidden_layers", width: "hidden_size", heads: "num_attention_heads",
        kvHeads: "num_key_value_heads", headWidth: "head_dim", feedForward: "intermediate_size",
        vocabulary: "vocab_size", context: "max_position_embeddings", normEps: "rms_norm_eps",
        ropeTheta: "rope_theta", ropeScaling: "rope_scaling", slidingWindow: "sliding_window")
}
