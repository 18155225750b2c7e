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
        let group = heads / kvHeads, keyCount = start + rows
        let blockRows = min(Self.blockRows, rows)
        // Heads run in parallel, each with its own score rows and single-threaded products.
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: heads * blockRows * keyCount)
        defer { scores.deallocate() }
        BLAS.singleThreaded {
            Kernels.parallelFor(heads) { head in
                attendHead(head, kvHead: head / group, blockRows: blockRows, scores: scores + head * blockRows * keyCount,
                           queries: queries, queryStride: queryStride, rows: rows, start: start,
                           keys: keys, values: values, kvStride: kvStride, into: z, zStride: zStride, pattern: pattern)
            }
        }
    }

    private func attendHead(
        _ head: Int, kvHead: Int, blockRows: Int, scores: UnsafeMutablePointer<Float>,
        queries: UnsafePointer<Float>, queryStride: Int, rows: Int, start: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int,
        into z: UnsafeMutablePointer<Float>, zStride: Int, pattern: PatternSink?
    ) {
        for blockStart in stride(from: 0, to: rows, by: blockRows) {
            let blockEnd = min(blockStart + blockRows, rows)
            let m = blockEnd - blockStart
            let keyCount = start + blockEnd
            // scores = scale · Q · Kᵀ over the keys the block's last row may see
            BLAS.gemm(m: m, n: keyCount, k: headDim,
                      queries + blockStart * queryStride + head * headDim, lda: queryStride,
                      keys + kvHead * headDim, ldb: kvStride, transposeB: true,
                      scores, ldc: keyCount, alpha: scale)
            for i in 0 ..< m {
                let row = scores + i * keyCount
                let visible = start + blockStart + i + 1
                Kernels.softmax(row, count: visible)
                (row + visible).update(repeating: 0, count: keyCount - visible)
            }
            if let pattern {
                for (index, row) in pattern.rows.enumerated() where (blockStart ..< blockEnd).contains(row) {
                    let destination = pattern.destination + (head * pattern.rows.count + index) * pattern.keyCount
                    destination.update(from: scores + (row - blockStart) * keyCount, count: keyCount)
                }
            }
            // z = P · V
            BLAS.gemm(m: m, n: headDim, k: keyCount,
                      scores, lda: keyCount,
                      values + kvHead * headDim, ldb: kvStride, transposeB: false,
                      z + blockStart * zStride + head * headDim, ldc: zStride)
        }
    }
}
