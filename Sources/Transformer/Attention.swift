/// Causal grouped-query attention: each query head attends, through its group's key/value head,
/// to every cached position up to its own.
struct CausalAttention {
    let heads: Int
    let kvHeads: Int
    let headDim: Int
    /// Softmax scale, 1/√d_head.
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
    /// Queries at or after position `branchStart` are branches: each sees the keys before
    /// `branchStart` and its own, not the other branches'.
    func callAsFunction(
        queries: UnsafePointer<Float>, queryStride: Int, rows: Int, start: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int, branchStart: Int? = nil,
        into z: UnsafeMutablePointer<Float>, zStride: Int, pattern: PatternSink?
    ) {
        let blockRows = min(Self.blockRows, rows)
        let blocks = (rows + blockRows - 1) / blockRows
        // Each (KV head, block of query rows) is a task of its own; the last blocks, which see the
        // most keys, go first so that the cores finish together.
        Kernels.parallelFor(kvHeads * blocks) { task in
            let kvHead = task % kvHeads, blockStart = (blocks - 1 - task / kvHeads) * blockRows
            attend(kvHead: kvHead, rows: blockStart ..< min(blockStart + blockRows, rows),
                   queries: queries, queryStride: queryStride, start: start,
                   keys: keys, values: values, kvStride: kvStride, branchStart: branchStart,
                   into: z, zStride: zStride, pattern: pattern)
        }
    }

    /// The query heads of one KV head for the query rows `rows` of the pass. The group's heads
    /// are adjacent in each row, so stacking its rows as [rows, group, d_head] = [rows·group, d_head]
    /// lets one product per step serve the whole group.
    private func attend(
        kvHead: Int, rows: Range<Int>,
        queries: UnsafePointer<Float>, queryStride: Int, start: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int, branchStart: Int?,
        into z: UnsafeMutablePointer<Float>, zStride: Int, pattern: PatternSink?
    ) {
        let group = heads / kvHeads, groupWidth = group * headDim, firstHead = kvHead * group
        let stackedRows = rows.count * group
        // Scores over the keys the block's last row may see.
        let keyCount = start + rows.upperBound
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
                  keys + kvHead * headDim, ldb: kvStride, transposeB: true,
                  scores, ldc: keyCount, alpha: scale)
        for (i, row) in rows.enumerated() {
            let position = start + row
            for head in 0 ..< group {
                let scoreRow = scores + (i * group + head) * keyCount
                if let branchStart, position >= branchStart {
                    // A branch: the softmax over the keys before the branches and its own key,
                    // laid out as if it were the only one, then its probability put back in place.
                    scoreRow[branchStart] = scoreRow[position]
                    Kernels.softmax(scoreRow, count: branchStart + 1)
                    let own = scoreRow[branchStart]
                    (scoreRow + branchStart).update(repeating: 0, count: keyCount - branchStart)
                    scoreRow[position] = own
                } else {
                    Kernels.softmax(scoreRow, count: position + 1)
                    (scoreRow + position + 1).update(repeating: 0, count: keyCount - position - 1)
                }
            }
        }
        if let pattern {
            for (index, row) in pattern.rows.enumerated() where rows.contains(row) {
                for head in 0 ..< group {
                    let destination = pattern.destination + ((firstHead + head) * pattern.rows.count + index) * pattern.keyCount
                    destination.update(from: scores + ((row - rows.lowerBound) * group + head) * keyCount, count: keyCount)
                }
            }
        }
        // z = P · V, back into each row's slots of the group's heads
        BLAS.gemm(m: stackedRows, n: headDim, k: keyCount, scores, lda: keyCount,
                  values + kvHead * headDim, ldb: kvStride, transposeB: false,
                  stacked, ldc: headDim)
        for (i, row) in rows.enumerated() {
            (z + row * zStride + firstHead * headDim).update(from: stacked + i * groupWidth, count: groupWidth)
        }
    }
}
