/// Which q and k vectors the QK-score reads; a run file records it as its `qk_rope` attribute.
public enum QKRope: String, Sendable, CaseIterable, Codable {
    /// As the projections give them, before rotary embedding (the paper's choice).
    case pre
    /// After rotary embedding: what attention really computes.
    case post
}

/// How the dot product is scaled.
public enum ScoreScale: String, Sendable, CaseIterable, Codable {
    case none
    /// 1/sqrt(d_head), as inside attention.
    case sqrt

    public func factor(dHead: Int) -> Float {
        switch self {
        case .none: return 1
        case .sqrt: return 1 / Float(dHead).squareRoot()
        }
    }
}

/// The head geometry the scores are laid out by.
public struct HeadShape: Sendable, Equatable {
    public let layers: Int
    public let heads: Int
    public let kvHeads: Int
    public let dHead: Int

    public init(layers: Int, heads: Int, kvHeads: Int, dHead: Int) {
        precondition(layers > 0 && heads > 0 && kvHeads > 0 && dHead > 0 && heads % kvHeads == 0)
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads
        self.dHead = dHead
    }

    /// The key head that query head `h` reads under grouped-query attention.
    public func kvHead(of h: Int) -> Int { h / (heads / kvHeads) }
}

/// S(l, h, a) = scale * q(l, h)[option a] . k(l, g(h))[anchor].
///
/// - Parameters:
///   - optionQueries: `[O, L, H, Dh]` row-major: the query at each option's token.
///   - anchorKeys: `[L, Hkv, Dh]` row-major: the key at the anchor.
/// - Returns: `[O, L, H]` row-major.
public func qkScores(optionQueries: [Float], anchorKeys: [Float], options: Int, shape: HeadShape, scale: Float) -> [Float] {
    let (L, H, Hkv, Dh) = (shape.layers, shape.heads, shape.kvHeads, shape.dHead)
    precondition(optionQueries.count == options * L * H * Dh && anchorKeys.count == L * Hkv * Dh)
    var scores = [Float](repeating: 0, count: options * L * H)
    optionQueries.withUnsafeBufferPointer { q in
        anchorKeys.withUnsafeBufferPointer { k in
            for o in 0..<options {
                for l in 0..<L {
                    for h in 0..<H {
                        let qBase = ((o * L + l) * H + h) * Dh
                        let kBase = (l * Hkv + shape.kvHead(of: h)) * Dh
                        var dot: Float = 0
                        for d in 0..<Dh { dot += q[qBase + d] * k[kBase + d] }
                        scores[(o * L + l) * H + h] = dot * scale
                    }
                }
            }
        }
    }
    return scores
}

/// The index of the largest value; the first one wins a tie, as numpy's argmax does.
@inlinable
public func argmax<C: Collection>(_ values: C) -> Int where C.Element == Float, C.Index == Int {
    var best = values.startIndex
    for i in values.indices where values[i] > values[best] { best = i }
    return best - values.startIndex
}
