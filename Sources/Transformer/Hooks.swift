/// A point in the forward pass whose value can be captured or edited, named as in TransformerLens.
public enum HookPoint: String, CaseIterable, Sendable {
    /// Token embedding rows, [pos, d_model].
    case embed = "hook_embed"
    /// GPT-2's learned position embedding rows, [pos, d_model].
    case positionEmbed = "hook_pos_embed"
    /// The residual stream entering a block, [pos, d_model].
    case residPre = "hook_resid_pre"
    /// Queries before rotary embedding, [pos, n_heads, d_head].
    case query = "attn.hook_q"
    /// Keys before rotary embedding, [pos, n_kv_heads, d_head].
    case key = "attn.hook_k"
    /// Values, [pos, n_kv_heads, d_head].
    case value = "attn.hook_v"
    /// Queries after rotary embedding, [pos, n_heads, d_head].
    case rotatedQuery = "attn.hook_rot_q"
    /// Keys after rotary embedding (what the KV cache holds), [pos, n_kv_heads, d_head].
    case rotatedKey = "attn.hook_rot_k"
    /// Attention probabilities, [n_heads, query pos, key pos]; keys cover the cached tokens too.
    case pattern = "attn.hook_pattern"
    /// Each head's attention output before the output projection, [pos, n_heads, d_head].
    case z = "attn.hook_z"
    /// The attention sublayer's output, [pos, d_model].
    case attentionOut = "hook_attn_out"
    /// The residual stream between attention and MLP, [pos, d_model].
    case residMid = "hook_resid_mid"
    /// The MLP sublayer's output, [pos, d_model].
    case mlpOut = "hook_mlp_out"
    /// The residual stream leaving a block, [pos, d_model].
    case residPost = "hook_resid_post"
    /// The final norm's output, the LM head's input, [pos, d_model].
    case finalNormalized = "ln_final.hook_normalized"

    /// Whether each block has one (`blocks.{l}.…`) rather than the model one.
    public var isPerLayer: Bool {
        switch self {
        case .embed, .positionEmbed, .finalNormalized: false
        default: true
        }
    }
}

/// One hook of one model: `blocks.3.attn.hook_q`, `hook_embed`.
public struct HookName: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let point: HookPoint
    /// The block, for per-layer points.
    public let layer: Int?

    public init(_ point: HookPoint, layer: Int) {
        precondition(point.isPerLayer, "\(point.rawValue) is not a per-layer hook")
        self.point = point
        self.layer = layer
    }

    public init(_ point: HookPoint) {
        precondition(!point.isPerLayer, "\(point.rawValue) needs a layer")
        self.point = point
        self.layer = nil
    }

    public var description: String {
        layer.map { "blocks.\($0).\(point.rawValue)" } ?? point.rawValue
    }

    /// Forward-pass order.
    public static func < (a: HookName, b: HookName) -> Bool {
        a.order < b.order
    }

    private var order: (Int, Int) {
        let points = HookPoint.allCases
        let index = points.firstIndex(of: point)!
        switch point {
        case .embed, .positionEmbed: return (-1, index)
        case .finalNormalized: return (Int.max, index)
        default: return (layer ?? 0, index)
        }
    }
}

/// Which hooks to keep, and at which absolute token positions (the first axis of a hook's value;
/// the query axis of `hook_pattern`). Hooks not asked for are not copied.
public struct HookCapture: Sendable {
    public var hooks: Set<HookName>
    /// nil keeps every position of the pass; positions outside the pass are skipped.
    public var positions: Set<Int>?

    public init(_ hooks: Set<HookName>, positions: Set<Int>? = nil) {
        self.hooks = hooks
        self.positions = positions
    }

    public static let nothing = HookCapture([])
}

/// Changes hook values as the pass runs (ablation, patching): `body` gets each listed hook's value
/// at every position of the pass, and what it leaves there flows on through the model.
/// `hook_pattern` cannot be edited.
public struct HookEdit {
    public var hooks: Set<HookName>
    public var body: (inout Activation) -> Void

    public init(_ hooks: Set<HookName>, _ body: @escaping (inout Activation) -> Void) {
        self.hooks = hooks
        self.body = body
    }
}

/// A hook's value over some positions, row-major float32.
public struct Activation: Sendable {
    public let hook: HookName
    /// Absolute token positions, in order, along the position axis (axis 1 of `hook_pattern`,
    /// axis 0 otherwise).
    public let positions: [Int]
    /// [pos, d_model], [pos, heads, d_head], or [heads, query pos, key pos] for `hook_pattern`.
    public let shape: [Int]
    /// Editable in place; its count must stay `shape`'s product.
    public var values: [Float]

    /// Everything at one position, [d_model] or [heads, d_head]; nil if the position was not
    /// captured, or for `hook_pattern`, whose first axis is the head.
    public func row(at position: Int) -> ArraySlice<Float>? {
        guard hook.point != .pattern, let row = positions.firstIndex(of: position) else { return nil }
        let width = shape.dropFirst().reduce(1, *)
        return values[row * width ..< (row + 1) * width]
    }

    /// One head's vector at a position: [d_head], or the key probabilities of a query for
    /// `hook_pattern`; nil if not captured or the hook has no head axis.
    public func vector(at position: Int, head: Int) -> ArraySlice<Float>? {
        guard shape.count == 3, let row = positions.firstIndex(of: position) else { return nil }
        let width = shape[2]
        let start = hook.point == .pattern ? (head * positions.count + row) * width : (row * shape[1] + head) * width
        return values[start ..< start + width]
    }
}

/// Captures and edits the hooks of one forward pass over positions `start ..< start + length`.
struct HookRunner {
    let capture: HookCapture
    let edit: HookEdit?
    let start: Int
    let length: Int
    /// Rows of the pass (0-based) that the capture keeps.
    let capturedRows: [Int]
    private(set) var activations: [HookName: Activation] = [:]

    init(capture: HookCapture, edit: HookEdit?, start: Int, length: Int) {
        self.capture = capture
        self.edit = edit
        self.start = start
        self.length = length
        if let positions = capture.positions {
            capturedRows = positions.filter { (start ..< start + length).contains($0) }.sorted().map { $0 - start }
        } else {
            capturedRows = Array(0 ..< length)
        }
    }

    /// Whether anything happens at `hook`; hooks nobody asked for are skipped before any copy.
    func isActive(_ hook: HookName) -> Bool {
        (capture.hooks.contains(hook) && !capturedRows.isEmpty) || isEdited(hook)
    }

    /// Whether an edit changes `hook` (then the steps on either side of it cannot run as one).
    func isEdited(_ hook: HookName) -> Bool { edit?.hooks.contains(hook) == true }

    /// Visits a hook whose value is one row per position: row r of the pass is `width` floats at
    /// `base + r * stride`, shaped `rowShape`. An edit writes back into the rows.
    mutating func visit(_ hook: HookName, _ base: UnsafeMutablePointer<Float>, stride: Int, rowShape: [Int]) {
        guard isActive(hook) else { return }
        let width = rowShape.reduce(1, *)
        if let edit, edit.hooks.contains(hook) {
            var activation = Activation(hook: hook, positions: Array(start ..< start + length),
                                        shape: [length] + rowShape, values: gather(0 ..< length, base, stride, width))
            edit.body(&activation)
            precondition(activation.values.count == length * width,
                         "an edit of \(hook) changed its size from \(length * width) to \(activation.values.count)")
            for row in 0 ..< length {
                for i in 0 ..< width { base[row * stride + i] = activation.values[row * width + i] }
            }
        }
        if capture.hooks.contains(hook), !capturedRows.isEmpty {
            activations[hook] = Activation(hook: hook, positions: capturedRows.map { start + $0 },
                                           shape: [capturedRows.count] + rowShape,
                                           values: gather(capturedRows, base, stride, width))
        }
    }

    /// Stores a value built by its kernel (attention patterns).
    mutating func store(_ activation: Activation) {
        activations[activation.hook] = activation
    }

    private func gather(_ rows: some Collection<Int>, _ base: UnsafeMutablePointer<Float>, _ stride: Int, _ width: Int) -> [Float] {
        var values: [Float] = []
        values.reserveCapacity(rows.count * width)
        for row in rows {
            values.append(contentsOf: UnsafeBufferPointer(start: base + row * stride, count: width))
        }
        return values
    }
}
