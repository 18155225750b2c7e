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
    func callAsFunction(
        queries: UnsafePointer<Float>, queryStride: Int, rows: Int, start: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int,
        into z: UnsafeMutablePointer<Float>, zStride: Int, pattern: PatternSink?
    ) {
        let group = heads / kvHeads
        let blockRows = min(Self.blockRows, rows)
        let blocks = (rows + blockRows - 1) / blockRows
        // Each (head, block of query rows) is a task of its own, with single-threaded products;
        // the last blocks, which see the most keys, go first so that the cores finish together.
        BLAS.singleThreaded {
            Kernels.parallelFor(heads * blocks) { task in
                let head = task % heads, blockStart = (blocks - 1 - task / heads) * blockRows
                attend(head: head, kvHead: head / group, rows: blockStart ..< min(blockStart + blockRows, rows),
                       queries: queries, queryStride: queryStride, start: start,
                       keys: keys, values: values, kvStride: kvStride, into: z, zStride: zStride, pattern: pattern)
            }
        }
    }

    /// One head for the query rows `rows` of the pass.
    private func attend(
        head: Int, kvHead: Int, rows: Range<Int>,
        queries: UnsafePointer<Float>, queryStride: Int, start: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int,
        into z: UnsafeMutablePointer<Float>, zStride: Int, pattern: PatternSink?
    ) {
        // Scores over the keys the block's last row may see.
        let keyCount = start + rows.upperBound
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: rows.count * keyCount)
        defer { scores.deallocate() }

        // scores = scale · Q · Kᵀ
        BLAS.gemm(m: rows.count, n: keyCount, k: headDim,
                  queries + rows.lowerBound * queryStride + head * headDim, lda: queryStride,
                  keys + kvHead * headDim, ldb: kvStride, transposeB: true,
                  scores, ldc: keyCount, alpha: scale)
        for (i, row) in rows.enumerated() {
            let scoreRow = scores + i * keyCount
            let visible = start + row + 1
            Kernels.softmax(scoreRow, count: visible)
            (scoreRow + visible).update(repeating: 0, count: keyCount - visible)
        }
        if let pattern {
            for (index, row) in pattern.rows.enumerated() where rows.contains(row) {
                let destination = pattern.destination + (head * pattern.rows.count + index) * pattern.keyCount
                destination.update(from: scores + (row - rows.lowerBound) * keyCount, count: keyCount)
            }
        }
        // z = P · V
        BLAS.gemm(m: rows.count, n: headDim, k: keyCount,
                  scores, lda: keyCount,
                  values + kvHead * headDim, ldb: kvStride, transposeB: false,
                  z + rows.lowerBound * zStride + head * headDim, ldc: zStride)
    }
}
