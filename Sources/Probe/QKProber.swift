import LogicTasks
import Tokenizers
import Transformer

/// A sample ready for the model: its prompt's tokens, the anchor, and one token per option.
public struct PreparedSample: Sendable, Equatable {
    public let tokenIDs: [Int]
    /// Position of the anchor token (see `AnchorRule`).
    public let anchor: Int
    public let optionIDs: [Int]
    /// The ids of the demonstrations before the prompt, in order.
    public let shotIDs: [String]
    /// MCQA only: the position of each option's key; `anchor` is then the query's position.
    public let keyPositions: [Int]

    public init(tokenIDs: [Int], anchor: Int, optionIDs: [Int], shotIDs: [String] = [], keyPositions: [Int] = []) {
        self.keyPositions = keyPositions
        self.tokenIDs = tokenIDs
        self.anchor = anchor
        self.optionIDs = optionIDs
        self.shotIDs = shotIDs
    }
}

/// A problem with one sample (no anchor, an option that is not one token). One line.
public struct ProbeError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Which q meets which k.
public enum QKGeometry: Sendable, Equatable {
    /// q at each option's token (a branch after the prompt) . k at the anchor (arXiv 2502.17017).
    case options
    /// q at the prompt's last token . k at each option's own line "A. ..." (arXiv 2410.02343).
    case multipleChoice(MCQAKey)
}

/// How a sample becomes a prompt and where its anchor is.
public struct PromptSettings: Sendable, Equatable {
    /// nil: plain prompts as they are, structured samples with the default template.
    public var template: PromptTemplate?
    public var anchorRule: AnchorRule
    public var answerCue: String
    public var optionPolicy: OptionTokenPolicy
    /// The model's chat template: the prompt (demonstrations, problem and cue) is the user's
    /// message, the options follow the assistant's generation prompt.
    public var chat: ChatTemplate?
    /// Solved demonstrations before each prompt, separated by blank lines.
    public var fewShot: FewShot?
    public var geometry: QKGeometry

    public init(template: PromptTemplate? = nil, anchorRule: AnchorRule = .beforeCue,
                answerCue: String = AnswerCue.default, optionPolicy: OptionTokenPolicy = .exact,
                chat: ChatTemplate? = nil, fewShot: FewShot? = nil, geometry: QKGeometry = .options) {
        self.template = template
        self.anchorRule = anchorRule
        self.answerCue = answerCue
        self.optionPolicy = optionPolicy
        self.chat = chat
        self.fewShot = fewShot
        self.geometry = geometry
    }
}

extension PreparedSample {
    /// Renders and tokenizes a sample; the anchor comes from the rule's place in the text and the
    /// tokens' byte offsets, so it is the same token whatever the tokenizer merges.
    public init(_ sample: LogicSample, settings: PromptSettings, tokenizer: Tokenizer) throws {
        let demonstrations = try settings.fewShot?.demonstrations(for: sample) { try $0.promptText(with: settings.template) } ?? []
        try self.init(sample, demonstrations: demonstrations, settings: settings, tokenizer: tokenizer)
    }

    /// The same with the demonstrations given (`settings.fewShot` is not consulted).
    public init(_ sample: LogicSample, demonstrations: [LogicSample], settings: PromptSettings, tokenizer: Tokenizer) throws {
        var prompt = try sample.rendered(with: settings.template, cue: settings.answerCue)
        if !demonstrations.isEmpty {
            let prefix = try demonstrations.map { try $0.demonstration(with: settings.template) }.joined(separator: "\n\n")
            prompt = prompt.prefixed(with: prefix + "\n\n")
        }
        if let chat = settings.chat {
            let rendering = try chat.render(
                [ChatMessage(.user, prompt.text)], bosToken: tokenizer.bosTokenID.flatMap(tokenizer.tokenString) ?? "",
                eosToken: tokenizer.eosTokenID.flatMap(tokenizer.tokenString) ?? "")
            prompt = prompt.embedded(in: rendering.text, at: rendering.lastUserContentUTF8Offset,
                                     trimmedUTF8: rendering.lastUserContentTrimmedUTF8)
        }
        // As apply_chat_template: the rendered chat holds its own special tokens.
        let encoding = tokenizer.encodeWithOffsets(prompt.text, addSpecialTokens: settings.chat == nil)
        guard let anchor = anchorTokenIndex(offsets: encoding.offsets, prompt: prompt, rule: settings.anchorRule) else {
            let reason = switch settings.anchorRule {
            case .beforeCue: "no token lies before the answer cue"
            case .questionEnd: "no token ends the question text"
            case .marked: prompt.markUTF8Offset == nil ? "the prompt has no {anchor} mark (--anchor marked needs a template with one)"
                                                       : "no token lies before the {anchor} mark"
            }
            throw ProbeError("sample \(sample.id): \(reason)")
        }
        if case .multipleChoice(let key) = settings.geometry {
            // The query is the last prompt token's; the keys are at the options' own lines.
            guard let places = MultipleChoice.keyOffsets(in: prompt.text, options: prompt.options.count, cue: settings.answerCue, key: key) else {
                throw ProbeError("sample \(sample.id): no lettered option lines (\"\\nA. ...\") before the answer cue")
            }
            let keys = places.compactMap { anchorTokenIndex(offsets: encoding.offsets, utf8Offset: $0 + 1) }
            guard keys.count == places.count, Set(keys).count == keys.count else {
                throw ProbeError("sample \(sample.id): two options' \(key.rawValue) keys fall in one token")
            }
            let optionIDs = try resolveOptionTokens(
                options: prompt.options, tokenize: { tokenizer.encode($0, addSpecialTokens: false) }, policy: settings.optionPolicy)
            self.init(tokenIDs: encoding.ids, anchor: encoding.ids.count - 1, optionIDs: optionIDs,
                      shotIDs: demonstrations.map(\.id), keyPositions: keys)
            return
        }
        let optionIDs = try resolveOptionTokens(
            options: prompt.options, tokenize: { tokenizer.encode($0, addSpecialTokens: false) }, policy: settings.optionPolicy)
        self.init(tokenIDs: encoding.ids, anchor: anchor, optionIDs: optionIDs, shotIDs: demonstrations.map(\.id))
    }

    /// The same with the default answer cue.
    public init(_ sample: LogicSample, template: PromptTemplate?, tokenizer: Tokenizer,
                optionPolicy: OptionTokenPolicy, anchorRule: AnchorRule = .beforeCue) throws {
        try self.init(sample, settings: PromptSettings(template: template, anchorRule: anchorRule, optionPolicy: optionPolicy),
                      tokenizer: tokenizer)
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
        if !sample.keyPositions.isEmpty { return try scoreMultipleChoice(sample) }
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

    /// The MCQA geometry: one pass over the prompt; the query at its last token against the key at
    /// each option's line. `queries` repeats the one query per option; `keys` are the first option's.
    private func scoreMultipleChoice(_ sample: PreparedSample) throws -> SampleScores {
        let prompt = sample.tokenIDs
        guard sample.keyPositions.count == sample.optionIDs.count, sample.keyPositions.allSatisfy(prompt.indices.contains) else {
            throw ProbeError("the option keys \(sample.keyPositions) do not fit the prompt's \(prompt.count) tokens")
        }
        var cache = model.makeCache()
        let pass = try model.forward(
            prompt, cache: &cache, logits: .last, vocabulary: sample.optionIDs,
            capture: HookCapture(keyHooks.union(queryHooks), positions: Set(sample.keyPositions + [sample.anchor])))
        let query = try gather(pass, hooks: queryHooks, position: sample.anchor)
        var qk: [Float] = []
        var firstKeys: [Float] = []
        for position in sample.keyPositions {
            let keys = try gather(pass, hooks: keyHooks, position: position)
            if firstKeys.isEmpty { firstKeys = keys }
            qk += qkScores(optionQueries: query, anchorKeys: keys, options: 1, shape: shape, scale: scale.factor(dHead: shape.dHead))
        }
        return SampleScores(qk: qk, modelLogits: pass.logits.values,
                            queries: Array(repeating: query, count: sample.optionIDs.count).flatMap { $0 }, keys: firstKeys)
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
