import Foundation
import ModelFormats

/// A decoder-only language model on the CPU: weights as stored (WeightMatrix.swift), an exact forward pass in float32 (Hugging Face
/// transformers' numbers to float32 rounding), TransformerLens-style hooks and a KV cache.
/// Immutable after loading, so one model can serve many threads.
///
/// Scoring answer options on a shared prompt, as the probe does: the options run as branches
/// after the prompt, in the prompt's own pass (each sees the prompt and itself), so the weights
/// are read once per sample.
///
///     let hooks = try model.hooks(matching: ["blocks.*.attn.hook_k", "blocks.*.attn.hook_q"])
///     var cache = model.makeCache()
///     let pass = try model.forward(ids, branches: options, cache: &cache, logits: .last, vocabulary: options,
///                                  capture: HookCapture(hooks, positions: [anchor, ids.count, ids.count + 1]))
///     // pass.logits.values: the options' logits after the prompt
///     // pass[HookName(.key, layer: l)]?.vector(at: anchor, head: g)
///     // pass[HookName(.query, layer: l)]?.vector(at: ids.count + o, head: h): option o's query
public struct Transformer: Sendable {
    public let config: ModelConfig
    /// The model file or folder, for messages and records.
    public let path: String
    let weights: ModelWeights
    /// What the family's forward pass computes (rotary or learned positions, norms, ...).
    public let capabilities: ModelCapabilities
    /// nil for families with learned positions instead.
    let rotary: RotaryEmbedding?
    /// The rotary embedding of sliding-window layers where it differs (Gemma 3's local base).
    let localRotary: RotaryEmbedding?
    /// Per layer, the number of positions a query sees (its own included); nil for all before it.
    let slidingWindows: [Int?]
    let attention: CausalAttention

    /// How the weight matrices are kept: as stored in the file, or decoded to float32 at load
    /// (never `automatic`: that resolves to one of them).
    public let weightStorage: WeightStorage

    /// Builds the model from a file's tensors: matrices kept as stored (memory-mapped, decoded a
    /// panel at a time in each product) or decoded once to float32 (`automatic`: by their size),
    /// with the same results either way. Every tensor is checked against the shape `config`
    /// implies; a missing or mis-shaped one is an error naming it.
    public init(weights source: any WeightSource, config: ModelConfig, storage: WeightStorage = .automatic) throws {
        guard let family = ModelFamilies.family(config.architecture) else {
            throw ModelFormatError(source.path, "unknown model family \(config.architecture)")
        }
        capabilities = family.capabilities
        if family.capabilities.hasRotaryEmbedding {
            try config.validatedRotary(path: source.path, keys: .huggingFace)
            var divisors: [Float]?
            if config.ropeScaling == .frequencyDivisors {
                divisors = try WeightReader(source: source).vector("rope_freqs.weight", count: config.dHead / 2)
                if let bad = divisors!.first(where: { !($0.isFinite && $0 > 0) }) {
                    throw ModelFormatError(source.path, "tensor rope_freqs.weight holds \(bad); rotary divisors must be positive")
                }
            }
            rotary = RotaryEmbedding(theta: config.ropeTheta, headDim: config.dHead, scaling: config.ropeScaling,
                                     frequencyDivisors: divisors)
        } else {
            rotary = nil
        }
        if config.slidingWindow != nil, !family.capabilities.slidingWindow {
            throw ModelFormatError(source.path, "\(config.architecture) does not compute sliding-window attention, but the configuration sets a window")
        }
        let weights = try family.load(WeightReader(source: source), config)
        weightStorage = storage.resolved(float32Bytes: weights.float32Bytes)
        self.weights = weightStorage == .float32 ? weights.decodedToFloat32() : weights
        self.config = config
        path = source.path
        localRotary = rotary == nil ? nil : config.localRopeTheta.map { RotaryEmbedding(theta: $0, headDim: config.dHead) }
        slidingWindows = (0 ..< config.nLayers).map { config.slidingWindow(layer: $0) }
        attention = CausalAttention(heads: config.nHeads, kvHeads: config.nKVHeads, headDim: config.dHead,
                                    scale: config.attentionScale)
    }

    /// Builds the model of an opened GGUF file or Hugging Face folder.
    public init(_ model: OpenedModel, storage: WeightStorage = .automatic) throws {
        try self.init(weights: model.weights, config: model.config, storage: storage)
    }

    /// Loads a GGUF file or a Hugging Face model folder.
    public init(path: String, storage: WeightStorage = .automatic) throws {
        try self.init(OpenedModel.open(path: path), storage: storage)
    }

    /// The sliding window of `layer`, nil where the layer attends to every earlier position.
    func slidingWindow(_ layer: Int) -> Int? { slidingWindows[layer] }

    /// An empty cache for this model.
    public func makeCache() -> KVCache {
        KVCache(layerCount: config.nLayers, width: config.nKVHeads * config.dHead, maximumLength: config.contextLength)
    }

    /// The OpenBLAS kernels doing the matrix products (e.g. "Haswell", "SkylakeX").
    public static var blasKernels: String { BLAS.kernels }
}

/// A problem with a request to a model (prompt, hooks, positions). One line, naming the model file.
public struct TransformerError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

// MARK: - Hooks by name

extension Transformer {
    /// Every hook of this model, in forward-pass order.
    public var hookNames: [HookName] {
        var names = [HookName(.embed)]
        if capabilities.positions == .learned { names.append(HookName(.positionEmbed)) }
        let perLayer = HookPoint.allCases.filter { point in
            point.isPerLayer && (rotary != nil || (point != .rotatedQuery && point != .rotatedKey))
        }
        for layer in 0 ..< config.nLayers {
            names += perLayer.map { HookName($0, layer: layer) }
        }
        names.append(HookName(.finalNormalized))
        return names
    }

    /// The hooks whose names match `pattern`, in which `*` stands for any run of characters:
    /// `blocks.*.attn.hook_q` is every layer's queries. An error lists the hooks there are.
    public func hooks(matching pattern: String) throws -> Set<HookName> {
        let matches = hookNames.filter { Self.glob(pattern, matches: $0.description) }
        guard !matches.isEmpty else {
            throw TransformerError(path, "no hook matches '\(pattern)'; hooks are \(hookSummary)")
        }
        return Set(matches)
    }

    public func hooks(matching patterns: [String]) throws -> Set<HookName> {
        try patterns.reduce(into: []) { $0.formUnion(try hooks(matching: $1)) }
    }

    /// "hook_embed, blocks.{0-29}.{hook_resid_pre, attn.hook_q, …}, ln_final.hook_normalized"
    var hookSummary: String {
        let names = hookNames
        let global = names.filter { $0.layer == nil }.map(\.description)
        let perLayer = names.filter { $0.layer == 0 }.map(\.point.rawValue)
        let layers = "blocks.{0-\(config.nLayers - 1)}.{\(perLayer.joined(separator: ", "))}"
        return (global.dropLast() + [layers] + global.suffix(1)).joined(separator: ", ")
    }

    static func glob(_ pattern: String, matches name: String) -> Bool {
        let pieces = pattern.split(separator: "*", omittingEmptySubsequences: false)
        guard pieces.count > 1 else { return pattern == name }
        var rest = Substring(name)
        guard rest.hasPrefix(pieces[0]) else { return false }
        rest = rest.dropFirst(pieces[0].count)
        for piece in pieces.dropFirst().dropLast() {
            guard let range = rest.range(of: piece) else { return false }
            rest = rest[range.upperBound...]
        }
        return rest.hasSuffix(pieces.last!)
    }
}

// MARK: - Cost

extension Transformer {
    /// Floating-point operations (a multiply-add counts 2) of a pass over `tokens` new tokens after
    /// `cached` ones, with logits at `logitRows` positions: every weight product, attention scores
    /// and weighted values over the keys each query sees (its causal prefix, or its window), and
    /// the LM head.
    public func forwardFLOPs(tokens: Int, cached: Int = 0, logitRows: Int = 1) -> Double {
        let c = config
        let qDim = c.nHeads * c.dHead, kvDim = c.nKVHeads * c.dHead
        let mlpWeights = (capabilities.activation.isGated ? 3 : 2) * c.dFF * c.dModel
        let layerWeights = Double(c.dModel * (qDim + 2 * kvDim) + qDim * c.dModel + mlpWeights)
        var total = 2 * Double(c.dModel * c.vocabSize * logitRows)
        for layer in 0 ..< c.nLayers {
            // Query at position p sees p + 1 keys, or at most the window.
            let window = slidingWindows[layer] ?? Int.max
            let visibleKeys = (cached ..< cached + tokens).reduce(0.0) { $0 + Double(min($1 + 1, window)) }
            total += 2 * layerWeights * Double(tokens) + 4 * Double(c.dHead * c.nHeads) * visibleKeys
        }
        return total
    }
}
