import LogicTasks
import Tokenizers
import Transformer

/// A sample ready for the model: its prompt's tokens, the anchor, and one token per option.
public struct PreparedSample: Sendable, Equatable {
    public let tokenIDs: [Int]
    /// Position of the anchor token (the one that ends the question line).
    public let anchor: Int
    public let optionIDs: [Int]

    public init(tokenIDs: [Int], anchor: Int, optionIDs: [Int]) {
        self.tokenIDs = tokenIDs
        self.anchor = anchor
        self.optionIDs = optionIDs
    }
}

/// A problem with one sample (no anchor, an option that is not one token). One line.
public struct ProbeError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension PreparedSample {
    /// Renders and tokenizes a sample; the anchor comes from the template's mark and the
    /// tokens' byte offsets, so it is the same token whatever the tokenizer merges.
    public init(_ sample: LogicSample, template: PromptTemplate?, tokenizer: Tokenizer,
                optionPolicy: OptionTokenPolicy) throws {
        let prompt = try sample.rendered(with: template)
        let encoding = tokenizer.encodeWithOffsets(prompt.text)
        guard let anchor = anchorTokenIndex(offsets: encoding.offsets, anchorUTF8Offset: prompt.anchorUTF8Offset) else {
            throw ProbeError("sample \(sample.id): no token ends the question line")
        }
        let optionIDs = try resolveOptionTokens(
            options: prompt.options, tokenize: { tokenizer.encode($0, addSpecialTokens: false) }, policy: optionPolicy)
        self.init(tokenIDs: encoding.ids, anchor: anchor, optionIDs: optionIDs)
    }
}

/// What the probe keeps of one sample.
public struct SampleScores: Sendable, Equatable {
    /// `[O, L, H]`: the QK-score of every head for every option.
    public let qk: [Float]
    /// `[O]`: the option tokens' logits at the last prompt position (the model's own answer).
    public let modelLogits: [Float]
    /// `[O, L, H, Dh]`: the queries at the option tokens.
    public let queries: [Float]
    /// `[L, Hkv, Dh]`: the keys at the anchor.
    public let keys: [Float]
}

/// Scores samples on one model in one forward pass each: the prompt, with every answer option
/// as a branch after it (each option attends to the prompt and itself, as if appended alone).
/// The pass keeps the keys at the anchor, the options' logits at the last prompt position, and
/// the queries at the option tokens; nothing else is copied out.
public struct QKProber: Sendable {
    public let model: Transformer
    public let rope: QKRope
    public let scale: ScoreScale
    private let keyHooks: Set<HookName>
    private let queryHooks: Set<HookName>

    public init(model: Transformer, rope: QKRope, scale: ScoreScale) {
        self.model = model
        self.rope = rope
        self.scale = scale
        let layers = 0..<model.config.nLayers
        keyHooks = Set(layers.map { HookName(rope == .pre ? .key : .rotatedKey, layer: $0) })
        queryHooks = Set(layers.map { HookName(rope == .pre ? .query : .rotatedQuery, layer: $0) })
    }

    public var shape: HeadShape {
        HeadShape(layers: model.config.nLayers, heads: model.config.nHeads,
                  kvHeads: model.config.nKVHeads, dHead: model.config.dHead)
    }

    public func score(_ sample: PreparedSample) throws -> SampleScores {
        let prompt = sample.tokenIDs
        guard prompt.indices.contains(sample.anchor) else {
            throw ProbeError("anchor \(sample.anchor) is outside the prompt's \(prompt.count) tokens")
        }
        // Branch o's rows are reported at position prompt.count + o.
        let optionPositions = sample.optionIDs.indices.map { prompt.count + $0 }
        var cache = model.makeCache()
        let pass = try model.forward(
            prompt, branches: sample.optionIDs, cache: &cache, logits: .last, vocabulary: sample.optionIDs,
            capture: HookCapture(keyHooks.union(queryHooks), positions: Set(optionPositions + [sample.anchor])))
        let keys = try gather(pass, hooks: keyHooks, position: sample.anchor)
        let queries = try optionPositions.flatMap { try gather(pass, hooks: queryHooks, position: $0) }
        let qk = qkScores(optionQueries: queries, anchorKeys: keys, options: sample.optionIDs.count,
                          shape: shape, scale: scale.factor(dHead: shape.dHead))
        return SampleScores(qk: qk, modelLogits: pass.logits.values, queries: queries, keys: keys)
    }

    /// One position of a per-layer hook, layer after layer: `[L, heads, Dh]`.
    private func gather(_ result: ForwardResult, hooks: Set<HookName>, position: Int) throws -> [Float] {
        var values: [Float] = []
        for hook in hooks.sorted() {
            guard let row = result[hook]?.row(at: position) else {
                throw ProbeError("\(hook) was not captured at position \(position)")
            }
            values += row
        }
        return values
    }
}
