import Foundation

/// What `qkprobe bench` measures besides the pass itself: the float32 sgemm ideal of a pass's
/// matrix products, to see how much of a pass goes elsewhere (attention, norms, decoding, threads).
extension Transformer {
    /// One weight product of a pass: `m` rows through a [n, k] matrix, `count` times per pass.
    public struct ProductShape: Hashable, Sendable, CustomStringConvertible {
        public let m: Int
        public let n: Int
        public let k: Int
        public var description: String { "\(m)x\(n)x\(k)" }
    }

    /// The weight products of a pass over `tokens` tokens from an empty cache with logits at the
    /// last position only, with how often each shape occurs: every block's projections (the last
    /// block's output projection and MLP on the one row that reaches the logits) and the LM head.
    public func passProducts(tokens: Int) -> [(shape: ProductShape, count: Int)] {
        let c = config, t = tokens
        let qDim = c.nHeads * c.dHead, qkv = qDim + 2 * c.nKVHeads * c.dHead
        func block(_ rows: Int) -> [ProductShape] {
            var shapes = [ProductShape(m: rows, n: c.dModel, k: qDim)]
            if case .gatedSiLU? = weights.layers.first?.mlp {
                shapes.append(ProductShape(m: rows, n: 2 * c.dFF, k: c.dModel))
            } else {
                shapes.append(ProductShape(m: rows, n: c.dFF, k: c.dModel))
            }
            shapes.append(ProductShape(m: rows, n: c.dModel, k: c.dFF))
            return shapes
        }
        var counts: [ProductShape: Int] = [:]
        counts[ProductShape(m: t, n: qkv, k: c.dModel), default: 0] += c.nLayers
        for shape in block(t) { counts[shape, default: 0] += c.nLayers - 1 }
        for shape in block(1) { counts[shape, default: 0] += 1 }
        counts[ProductShape(m: 1, n: c.vocabSize, k: c.dModel), default: 0] += 1
        return counts.sorted { ($0.key.m, $0.key.n, $0.key.k) > ($1.key.m, $1.key.n, $1.key.k) }.map { ($0.key, $0.value) }
    }

    /// The best time of one product of `shape` in float32 over every core, each core running one
    /// OpenBLAS sgemm on its own even share of the columns (no panels, no decoding): `repeats`
    /// timed runs after one warm-up.
    public static func idealSeconds(_ shape: ProductShape, repeats: Int = 3) -> Double {
        let cores = min(Kernels.coreCount, max(1, (shape.n + 15) / 16))
        let a = UnsafeMutablePointer<Float>.allocate(capacity: shape.m * shape.k)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: shape.n * shape.k)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: shape.m * shape.n)
        defer {
            a.deallocate()
            b.deallocate()
            c.deallocate()
        }
        for i in 0 ..< shape.m * shape.k { a[i] = Float(i % 17) * 0.01 - 0.08 }
        for i in 0 ..< shape.n * shape.k { b[i] = Float(i % 13) * 0.01 - 0.06 }
        let panels = (shape.n + 15) / 16
        var best = Double.infinity
        for run in 0 ... repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            Kernels.parallelFor(cores) { core in
                let first = panels * core / cores * 16, end = min(shape.n, panels * (core + 1) / cores * 16)
                BLAS.gemm(m: shape.m, n: end - first, k: shape.k, a, lda: shape.k, b + first * shape.k, ldb: shape.k,
                          transposeB: true, c + first, ldc: shape.n)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if run > 0 { best = min(best, seconds) }
        }
        return best
    }
}
