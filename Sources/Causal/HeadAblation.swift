import Probe
import Transformer

/// How a head is switched off.
public enum AblationMethod: String, CaseIterable, Sendable {
    /// The head's `hook_z` slice (its attention output before the output projection) set to 0
    /// at every position: TransformerLens' zero ablation.
    case zero
    /// The head's `hook_z` slice replaced by its mean over every token of a dataset.
    case mean
    /// The head's query set to 0 after rotary embedding (`hook_rot_q`; `hook_q` for GPT-2,
    /// which has none): its scores are all 0, so it attends uniformly over the prefix, as the
    /// retrieval-head paper masks heads.
    case queryZero = "query-zero"
}

/// Switches off a set of heads in a forward pass: the `HookEdit` that does it.
public struct HeadAblation: Sendable {
    public let heads: [HeadID]
    public let method: AblationMethod
    /// For `.mean`: per ablated head, its mean `hook_z` vector [d_head].
    public let means: [HeadID: [Float]]

    /// Checks the heads against the model; `.mean` needs `means` for every head.
    public init(heads: [HeadID], method: AblationMethod, means: [HeadID: [Float]] = [:], model: Transformer) throws {
        let config = model.config
        for head in heads where !(0 ..< config.nLayers).contains(head.layer) || !(0 ..< config.nHeads).contains(head.head) {
            throw CausalError("\(model.path): no head \(head) in a model of \(config.nLayers) layers × \(config.nHeads) heads")
        }
        if method == .mean {
            for head in heads where means[head]?.count != config.dHead {
                throw CausalError("mean ablation of \(head) needs its mean hook_z vector of \(config.dHead) values")
            }
        }
        self.heads = heads
        self.method = method
        self.means = means
        hasRotary = config.architecture != .gpt2
    }

    private let hasRotary: Bool

    /// The hook each layer's heads are edited at.
    public func hook(layer: Int) -> HookName {
        switch method {
        case .zero, .mean: HookName(.z, layer: layer)
        case .queryZero: HookName(hasRotary ? .rotatedQuery : .query, layer: layer)
        }
    }

    /// The edit for `Transformer.forward`; nil when there is no head to ablate.
    public var edit: HookEdit? {
        guard !heads.isEmpty else { return nil }
        var byHook: [HookName: [HeadID]] = [:]
        for head in heads { byHook[hook(layer: head.layer), default: []].append(head) }
        let means = means, method = method
        return HookEdit(Set(byHook.keys)) { activation in
            // [pos, heads, d_head]
            let rows = activation.shape[0], headCount = activation.shape[1], dHead = activation.shape[2]
            for head in byHook[activation.hook] ?? [] {
                let replacement = method == .mean ? means[head]! : [Float](repeating: 0, count: dHead)
                for row in 0 ..< rows {
                    let start = (row * headCount + head.head) * dHead
                    activation.values.replaceSubrange(start ..< start + dHead, with: replacement)
                }
            }
        }
    }
}
