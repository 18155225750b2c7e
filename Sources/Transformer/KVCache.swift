/// The keys (after rotary embedding) and values of the tokens run so far, per layer, so that later
/// tokens attend to them without running them again. A value: copying a cache forks it.
///
/// Generation appends one token at a time. The probe runs its prompt once with every answer option
/// as a branch in the same pass (`forward(_:branches:cache:...)`); the branches' keys and values
/// are never stored here, so the cache holds the prompt alone afterwards.
public struct KVCache: Sendable {
    /// The tokens whose keys and values are cached, in order.
    public private(set) var tokens: [Int] = []
    let layerCount: Int
    /// n_kv_heads × d_head: one cached row.
    let width: Int
    let maximumLength: Int
    /// Per layer, [capacity, n_kv_heads, d_head].
    var keys: [[Float]]
    var values: [[Float]]
    private(set) var capacity = 0

    init(layerCount: Int, width: Int, maximumLength: Int) {
        self.layerCount = layerCount
        self.width = width
        self.maximumLength = maximumLength
        keys = Array(repeating: [], count: layerCount)
        values = keys
    }

    /// Tokens cached.
    public var count: Int { tokens.count }

    /// Forgets every token from `length` on.
    public mutating func truncate(to length: Int) {
        precondition((0 ... count).contains(length), "cannot truncate a cache of \(count) tokens to \(length)")
        tokens.removeLast(count - length)
    }

    /// Makes room for `length` tokens, growing geometrically so that decoding one token at a time
    /// reallocates rarely.
    mutating func reserve(_ length: Int) {
        guard length > capacity else { return }
        let grown = min(max(length, 2 * capacity, 64), max(length, maximumLength))
        let added = (grown - capacity) * width
        for layer in 0 ..< layerCount {
            keys[layer].append(contentsOf: repeatElement(0, count: added))
            values[layer].append(contentsOf: repeatElement(0, count: added))
        }
        capacity = grown
    }

    /// Runs `body` with a `store` that copies rows of a pass's new keys and values (row r at
    /// `k + r * stride`, `v + r * stride`) into layer `layer` at position `start + r`. `store`
    /// may run on several threads at once for disjoint rows.
    mutating func storing<R>(layer: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, stride: Int,
                             start: Int, _ body: (_ store: (Range<Int>) -> Void) -> R) -> R {
        let width = width
        return keys[layer].withUnsafeMutableBufferPointer { keyRows in
            values[layer].withUnsafeMutableBufferPointer { valueRows in
                let (keyBase, valueBase) = (keyRows.baseAddress!, valueRows.baseAddress!)
                return body { rows in
                    for row in rows {
                        (keyBase + (start + row) * width).update(from: k + row * stride, count: width)
                        (valueBase + (start + row) * width).update(from: v + row * stride, count: width)
                    }
                }
            }
        }
    }

    mutating func append(_ newTokens: [Int]) {
        tokens += newTokens
    }
}
