import Probe
import RunStore
import Transformer

/// Where `trace --dataset` reads hooks in each sample.
public enum TracePositions: Sendable, Equatable {
    /// Any of: the anchor token, each answer option (run as a branch after the prompt, as the
    /// probe does), the prompt's last token; in the order given.
    case named([TraceSlot])
    /// Every prompt token; shorter prompts leave their last slots empty (-1, NaN).
    case all

    /// Parses "anchor,options,last" or "all".
    public init(parsing text: String) throws {
        if text == "all" {
            self = .all
            return
        }
        let slots = try text.split(separator: ",").map { part in
            guard let slot = TraceSlot(rawValue: String(part)) else {
                throw CausalError("--positions: '\(part)' is not anchor, options, last or all")
            }
            return slot
        }
        guard !slots.isEmpty, Set(slots).count == slots.count else {
            throw CausalError("--positions '\(text)': name each of anchor, options, last at most once, or say all")
        }
        self = .named(slots)
    }
}

public enum TraceSlot: String, Sendable, Equatable, Hashable {
    case anchor, options, last
}

/// Hooks of every sample at chosen positions, for `TraceFile`.
public struct DatasetTrace: Sendable {
    public let model: Transformer
    public let hooks: [HookName]
    public let positions: TracePositions

    public init(model: Transformer, hooks: Set<HookName>, positions: TracePositions) throws {
        if let pattern = hooks.first(where: { $0.point == .pattern }) {
            throw CausalError("\(pattern) has a row per key, different for every sample; trace it with --prompt")
        }
        self.model = model
        self.hooks = hooks.sorted()
        self.positions = positions
    }

    /// The stored shape of each hook at one position.
    public var tracedHooks: [TracedHook] {
        let c = model.config
        return hooks.map { hook -> TracedHook in
            switch hook.point {
            case .query, .rotatedQuery, .z:
                TracedHook(name: hook.description, rowShape: [c.nHeads, c.dHead], rowDimensions: ["head", "d_head"])
            case .key, .value, .rotatedKey:
                TracedHook(name: hook.description, rowShape: [c.nKVHeads, c.dHead], rowDimensions: ["kv_head", "d_head"])
            default:
                TracedHook(name: hook.description, rowShape: [c.dModel], rowDimensions: ["d_model"])
            }
        }
    }

    /// The slots' names for samples of `options` options and at most `maximumTokens` tokens.
    public func slotNames(options: Int, maximumTokens: Int) -> [String] {
        switch positions {
        case .all: return (0 ..< maximumTokens).map { "position \($0)" }
        case .named(let slots):
            return slots.flatMap { slot -> [String] in
                switch slot {
                case .anchor: ["anchor"]
                case .last: ["last"]
                case .options: (0 ..< options).map { "option \($0)" }
                }
            }
        }
    }

    /// One sample: each slot's token position (-1 when none; option o is reported at
    /// `tokens + o`, where its branch sits) and per hook the values at the slots, NaN-padded.
    public func trace(_ sample: PreparedSample, slotCount: Int) throws -> (positions: [Int], values: [[Float]]) {
        let prompt = sample.tokenIDs
        var slotPositions: [Int]
        var branches: [Int] = []
        switch positions {
        case .all:
            guard prompt.count <= slotCount else { throw CausalError("a prompt of \(prompt.count) tokens is longer than the \(slotCount) slots") }
            slotPositions = Array(prompt.indices) + [Int](repeating: -1, count: slotCount - prompt.count)
        case .named(let slots):
            slotPositions = slots.flatMap { slot -> [Int] in
                switch slot {
                case .anchor: [sample.anchor]
                case .last: [prompt.count - 1]
                case .options: sample.optionIDs.indices.map { prompt.count + $0 }
                }
            }
            if slots.contains(.options) { branches = sample.optionIDs }
            guard slotPositions.count == slotCount else {
                throw CausalError("a sample of \(sample.optionIDs.count) options fills \(slotPositions.count) slots, not \(slotCount)")
            }
        }
        var cache = model.makeCache()
        let pass = try model.forward(prompt, branches: branches, cache: &cache, logits: .none,
                                     capture: HookCapture(Set(hooks), positions: Set(slotPositions.filter { $0 >= 0 })))
        let values = try zip(hooks, tracedHooks).map { hook, traced -> [Float] in
            let width = traced.rowShape.reduce(1, *)
            let activation = pass[hook]
            return try slotPositions.flatMap { position -> [Float] in
                guard position >= 0 else { return [Float](repeating: .nan, count: width) }
                guard let row = activation?.row(at: position) else { throw CausalError("\(hook) was not captured at position \(position)") }
                return Array(row)
            }
        }
        return (slotPositions, values)
    }
}
