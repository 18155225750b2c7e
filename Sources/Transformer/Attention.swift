/// Causal grouped-query attention: each query head attends, through its group's key/value head,
/// to every cached position up to its own, or, with a sliding window of W, to the last W positions
/// up to its own (transformers' `kv_idx > q_idx - sliding_window`).
struct CausalAttention: Sendable {
    let heads: Int
    let kvHeads: Int
    let headDim: Int
    /// Softmax scale: 1/√d_head, or the family's own (Gemma's `query_pre_attn_scalar`^-1/2).
    let scale: Float

    /// Query rows per block: a block's scores cover only the keys its last query may see, which
    /// skips most of the masked upper triangle of a long prompt.
    static let blockRows = 64

    /// Where `hook_pattern` goes: rows of the pass (0-based) to keep, and a zeroed buffer
    /// [heads, rows.count, keyCount] to copy their probabilities into.
    struct PatternSink {
        let rows: [Int]
        let destination: UnsafeMutablePointer<Float>
        let keyCount: Int
    }

    /// Attention for `rows` new queries at positions `start ..< start + rows`. Query row r, head h
    /// is at `queries + r * queryStride + h * headDim`; cached position p of KV head g at
    /// `keys/values + p * kvStride + g * headDim`, the new tokens' keys and values included.
    /// Writes head h of row r to `z + r * zStride + h * headDim`.
    ///
    /// Queries at or after position `branchStart` are branches: each sits at `branchStart` and sees
    /// the keys before it and its own, not the other branches'. `window`, when set, is the number of
    /// positions a query sees, its own included.
    func callAsFunction(
        queries: UnsafePointer<Float>, queryStride: Int, rows: Int, start: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int, branchStart: Int? = nil,
        window: Int? = nil, into z: UnsafeMutablePointer<Float>, zStride: Int, pattern: PatternSink?
    ) {
        let blockRows = min(Self.blockRows, rows)
        let blocks = (rows + blockRows - 1) / blockRows
        // Each (KV head, block of query rows) is a task of its own; the last blocks, which see the
        // most keys, go first so that the cores finish together.
        Kernels.parallelFor(kvHeads * blocks) { task in
            let kvHead = task % kvHeads, blockStart = (blocks - 1 - task / kvHeads) * blockRows
            attend(kvHead: kvHead, rows: blockStart ..< min(blockStart + blockRows, rows),
                   queries: queries, queryStride: queryStride, start: start,
                   keys: keys, values: values, kvStride: kvStride, branchStart: branchStart, window: window,
                   into: z, zStride: zStride, pattern: pattern)
        }
    }

    /// The first key a query at `position` sees (a branch's position is `branchStart`).
    @inline(__always)
    private func firstVisibleKey(_ position: Int, branchStart: Int?, window: Int?) -> Int {
        guard let window else { return 0 }
        let logical = branchStart.map { min(position, $0) } ?? position
        return max(0, logical - window + 1)
    }

    /// The query heads of one KV head for the query rows `rows` of the pass. The group's heads
    /// are adjacent in each row, so stacking its rows as [rows, group, d_head] = [rows·group, d_head]
    /// lets one product per step serve the whole group.
    private func attend(
        kvHead: Int, rows: Range<Int>,
        queries: UnsafePointer<Float>, queryStride: Int, start: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int, branchStart: Int?, window: Int?,
        into z: UnsafeMutablePointer<Float>, zStride: Int, pattern: PatternSink?
    ) {
        let group = heads / kvHeads, groupWidth = group * headDim, firstHead = kvHead * group
        let stackedRows = rows.count * group
        // Scores over the keys the block's rows may see: from the first row's first visible key
        // (`base`) to the last row's position; column c is key base + c.
        let base = firstVisibleKey(start + rows.lowerBound, branchStart: branchStart, window: window)
        let end = start + rows.upperBound, keyCount = end - base
        let stacked = UnsafeMutablePointer<Float>.allocate(capacity: stackedRows * headDim)
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: stackedRows * keyCount)
        defer {
            stacked.deallocate()
            scores.deallocate()
        }
        for (i, row) in rows.enumerated() {
            (stacked + i * groupWidth).update(from: queries + row * queryStride + firstHead * headDim, count: groupWidth)
        }

        // scores = scale · Q · Kᵀ
        BLAS.gemm(m: stackedRows, n: keyCount, k: headDim, stacked, lda: headDim,
                  keys + base * kvStride + kvHead * headDim, ldb: kvStride, transposeB: true,
                  scores, ldc: keyCount, alpha: scale)
        for (i, row) in rows.enumerated() {
            let position = start + row
            let first = firstVisibleKey(position, branchStart: branchStart, window: window) - base
            for head in 0 ..< group {
                let scoreRow = scores + (i * group + head) * keyCount
                if let branchStart, position >= branchStart {
                    // A branch: the softmax over the keys before the branches and its own key,
                    // laid out as if it were the only one, then its probability put back in place.
                    let slot = branchStart - base, own = position - base
                    scoreRow[slot] = scoreRow[own]
                    Kernels.softmax(scoreRow + first, count: slot + 1 - first)
                    let probability = scoreRow[slot]
                    (scoreRow + slot).update(repeating: 0, count: keyCount - slot)
                    scoreRow[own] = probability
                } else {
                    let own = position - base
                    Kernels.softmax(scoreRow + first, count: own + 1 - first)
                    (scoreRow + own + 1).update(repeating: 0, count: keyCount - own - 1)
                }
                scoreRow.update(repeating: 0, count: first)
            }
        }
        if let pattern {
            for (index, row) in pattern.rows.enumerated() where rows.contains(row) {
                for head in 0 ..< group {
                    // The pattern buffer is zeroed: keys before `base` stay 0.
                    let destination = pattern.destination + ((firstHead + head) * pattern.rows.count + index) * pattern.keyCount
                    (destination + base).update(from: scores + ((row - rows.lowerBound) * group + head) * keyCount, count: keyCount)
                }
            }
        }
        // z = P · V, back into each row's slots of the group's heads
        BLAS.gemm(m: stackedRows, n: headDim, k: keyCount, scores, lda: keyCount,
                  values + base * kvStride + kvHead * headDim, ldb: kvStride, transposeB: false,
                  stacked, ldc: headDim)
        for (i, row) in rows.enumerated() {
            (z + row * zStride + firstHead * headDim).update(from: stacked + i * groupWidth, count: groupWidth)
        }
    }
}
