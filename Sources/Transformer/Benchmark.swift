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
            // Gated MLPs (SwiGLU, GeGLU) fuse gate and up into one product of twice the width.
            if case .gelu? = weights.layers.first?.mlp {
                shapes.append(ProductShape(m: rows, n: c.dFF, k: c.dModel))
            } else {
                shapes.append(ProductShape(m: rows, n: 2 * c.dFF, k: c.dModel))
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
}

/// Timings of forward passes and of their float32 sgemm ideal, taken in alternating rounds.
///
/// On a shared machine the speed of a core changes from one second to the next (other jobs,
/// a hypervisor's steal): a ratio of two numbers measured a minute apart measures that change
/// as much as the code. So each round times one pass of each model and, with `ideal`, one
/// "ideal pass" (every weight product of the pass, as often as the pass runs it, each on its
/// own in float32) and one warm ideal pass (`IdealPass`), back to back; a ratio is taken within
/// each round and the median reported.
public struct PassBenchmark: Sendable {
    /// One round: seconds of the pass (and of the float32 pass and the two ideal passes, when asked).
    public struct Round: Sendable {
        public let seconds: Double
        public let float32Seconds: Double?
        public let idealSeconds: Double?
        /// The ideal with one matrix per shape, in cache from its second call on.
        public let warmIdealSeconds: Double?
    }

    /// One weight product of the ideal: its shape, how often a pass runs it, and the median over
    /// the rounds of the mean time of one call.
    public struct Product: Sendable {
        public let shape: Transformer.ProductShape
        public let count: Int
        public let seconds: Double
    }

    public let tokens: Int
    public let rounds: [Round]
    public let products: [Product]

    /// The median seconds of a pass.
    public var seconds: Double { Self.median(rounds.map(\.seconds)) ?? 0 }
    /// The median seconds of a float32 pass, when compared.
    public var float32Seconds: Double? { Self.median(rounds.compactMap(\.float32Seconds)) }
    /// The median seconds of the ideal pass, when measured.
    public var idealSeconds: Double? { Self.median(rounds.compactMap(\.idealSeconds)) }
    /// The median over rounds of float32 time / pass time (above 1: the pass is faster).
    public var speedOverFloat32: Double? { Self.median(rounds.compactMap { r in r.float32Seconds.map { $0 / r.seconds } }) }
    /// The median over rounds of ideal time / pass time: the share of the ideal the pass reaches.
    public var shareOfIdeal: Double? { Self.median(rounds.compactMap { r in r.idealSeconds.map { $0 / r.seconds } }) }
    /// The median over rounds of warm ideal time / pass time: the share of an ideal whose weights
    /// stay in cache, which no pass can reach (it reads each layer's weights once).
    public var warmShareOfIdeal: Double? { Self.median(rounds.compactMap { r in r.warmIdealSeconds.map { $0 / r.seconds } }) }
    /// The same for the float32 pass.
    public var float32ShareOfIdeal: Double? {
        Self.median(rounds.compactMap { r in r.idealSeconds.flatMap { ideal in r.float32Seconds.map { ideal / $0 } } })
    }

    /// The fastest ideal pass over the fastest pass. A shared machine only ever adds time, so the
    /// fastest of several rounds is the nearest to an undisturbed one, for each kind on its own;
    /// where slow spells are shorter than a round, this is steadier than the paired median.
    public var fastestShareOfIdeal: Double? {
        rounds.compactMap(\.idealSeconds).min().map { $0 / rounds.map(\.seconds).min()! }
    }

    /// The same for the float32 pass.
    public var fastestFloat32ShareOfIdeal: Double? {
        guard let ideal = rounds.compactMap(\.idealSeconds).min(), let float32 = rounds.compactMap(\.float32Seconds).min() else {
            return nil
        }
        return ideal / float32
    }

    /// Runs `rounds` rounds over a prompt of `prompt`'s tokens (logits at the last position),
    /// after one untimed pass of each model.
    public static func measure(_ model: Transformer, float32: Transformer? = nil, prompt: [Int], rounds: Int,
                               ideal: Bool) throws -> PassBenchmark {
        func timed(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        let idealPass = ideal ? IdealPass(model.passProducts(tokens: prompt.count)) : nil
        defer { idealPass?.deallocate() }
        _ = try model.forward(prompt)
        _ = try float32?.forward(prompt)
        idealPass?.run()
        idealPass?.run(warm: true)
        var measured: [Round] = [], callSeconds: [[Double]] = []
        for _ in 0 ..< rounds {
            let seconds = try timed { _ = try model.forward(prompt) }
            let float32Seconds = try float32.map { other in try timed { _ = try other.forward(prompt) } }
            let perShape = idealPass?.run()
            if let perShape { callSeconds.append(perShape) }
            measured.append(Round(seconds: seconds, float32Seconds: float32Seconds,
                                  idealSeconds: idealPass.flatMap { pass in perShape.map(pass.passSeconds) },
                                  warmIdealSeconds: idealPass.map { $0.passSeconds($0.run(warm: true)) }))
        }
        let products = idealPass.map { pass in
            pass.shapes.indices.map { index in
                Product(shape: pass.shapes[index], count: pass.counts[index], seconds: median(callSeconds.map { $0[index] })!)
            }
        } ?? []
        return PassBenchmark(tokens: prompt.count, rounds: measured, products: products)
    }

    static func median(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.sorted()[values.count / 2]
    }
}

/// Every weight product of a pass, run alone in float32 as often as the pass runs it: each call
/// shares the columns evenly over the cores, one OpenBLAS sgemm per core (no panels, no
/// decoding, nothing between the products).
///
/// A pass reads each layer's weights once, from memory, and so does the ideal: each shape cycles
/// through enough copies of its matrix that at least `evictionBytes` of other weights are read
/// between two uses of one copy. The warm ideal runs every call of a shape on its first copy,
/// which stays in cache from the second call on: faster than any pass can be.
struct IdealPass {
    let shapes: [Transformer.ProductShape]
    let counts: [Int]
    private let buffers: [(a: UnsafeMutablePointer<Float>, b: [UnsafeMutablePointer<Float>], c: UnsafeMutablePointer<Float>)]

    /// Several times the last-level cache of the CPUs this runs on (32 MB a Zen 4 CCD).
    static let evictionBytes = 256 << 20

    /// Copies of a matrix of `bytes` for `count` calls: one more than it takes to fill
    /// `evictionBytes` with the others, and never more than there are calls.
    static func coldCopies(bytes: Int, count: Int) -> Int {
        min(count, 1 + (evictionBytes + bytes - 1) / max(bytes, 1))
    }

    init(_ products: [(shape: Transformer.ProductShape, count: Int)]) {
        shapes = products.map(\.shape)
        counts = products.map(\.count)
        buffers = products.map { shape, count in
            let a = UnsafeMutablePointer<Float>.allocate(capacity: shape.m * shape.k)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: shape.m * shape.n)
            for i in 0 ..< shape.m * shape.k { a[i] = Float(i % 17) * 0.01 - 0.08 }
            let first = UnsafeMutablePointer<Float>.allocate(capacity: shape.n * shape.k)
            for i in 0 ..< shape.n * shape.k { first[i] = Float(i % 13) * 0.01 - 0.06 }
            let copies = Self.coldCopies(bytes: shape.n * shape.k * MemoryLayout<Float>.size, count: count)
            let b = [first] + (1 ..< copies).map { _ in
                let copy = UnsafeMutablePointer<Float>.allocate(capacity: shape.n * shape.k)
                copy.initialize(from: first, count: shape.n * shape.k)
                return copy
            }
            return (a, b, c)
        }
    }

    /// Runs every product its count of times (`warm`: all on a shape's first copy); returns the
    /// mean seconds of one call of each shape.
    @discardableResult
    func run(warm: Bool = false) -> [Double] {
        shapes.indices.map { index in
            let shape = shapes[index], (a, copies, c) = buffers[index]
            let cores = min(Kernels.coreCount, max(1, (shape.n + 15) / 16))
            let panels = (shape.n + 15) / 16
            let start = DispatchTime.now().uptimeNanoseconds
            for call in 0 ..< counts[index] {
                let b = copies[warm ? 0 : call % copies.count]
                Kernels.parallelFor(cores) { core in
                    let first = panels * core / cores * 16, end = min(shape.n, panels * (core + 1) / cores * 16)
                    BLAS.gemm(m: shape.m, n: end - first, k: shape.k, a, lda: shape.k, b + first * shape.k, ldb: shape.k,
                              transposeB: true, c + first, ldc: shape.n)
                }
            }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(counts[index])
        }
    }

    /// The seconds of a whole ideal pass from `run`'s seconds per call.
    func passSeconds(_ perCall: [Double]) -> Double {
        zip(perCall, counts).reduce(0) { $0 + $1.0 * Double($1.1) }
    }

    func deallocate() {
        for (a, copies, c) in buffers {
            a.deallocate()
            copies.forEach { $0.deallocate() }
            c.deallocate()
        }
    }
}

extension PassBenchmark {
    /// Seconds per pass of each stage, over `runs` passes of `prompt` timed stage by stage (the
    /// timing itself costs a little, so these passes are not the benchmark's).
    public static func stageSeconds(_ model: Transformer, prompt: [Int], runs: Int) throws -> [(stage: PassProfile.Stage, seconds: Double)] {
        PassProfile.start()
        for _ in 0 ..< runs { _ = try model.forward(prompt) }
        return PassProfile.stop().map { ($0.stage, $0.seconds / Double(runs)) }
    }
}
