import Foundation
import Synchronization

/// The element-wise and row-wise operations of a forward pass, on raw float32 rows, written to
/// round like PyTorch's float32 CPU kernels (same formulas, same order of the final operations).
enum Kernels {
    // MARK: Work sharing

    /// The threads work is shared over: every core unless `Transformer.setThreadCount` says otherwise.
    static var coreCount: Int { threadSetting.load(ordering: .relaxed) }
    static let threadSetting = Atomic<Int>(max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// Runs `body` over `0..<count` in contiguous chunks, one per core when each chunk has at least
    /// `minimumChunk` items (below that, threads cost more than they save).
    static func forEachChunk(of count: Int, minimumChunk: Int, _ body: (Range<Int>) -> Void) {
        let chunks = min(coreCount, count / max(minimumChunk, 1))
        guard chunks > 1 else {
            if count > 0 { body(0 ..< count) }
            return
        }
        parallelFor(chunks) { chunk in
            body(count * chunk / chunks ..< count * (chunk + 1) / chunks)
        }
    }

    /// Runs `body(i)` for every i in `0..<count` on all cores. Each call must touch only its own
    /// part of the data (the kernels here write disjoint rows or heads).
    static func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            // The iterations are disjoint, so sharing the closure (and the buffers it holds) cannot race.
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: count) { body($0) }
        }
    }

    /// Rows of work below which element-wise kernels stay on one thread.
    static let rowsPerThread = 16

    // MARK: Normalisation

    /// HF's RMSNorm: `gain * (x * rsqrt(mean(x²) + eps))`.
    static func rmsNorm(_ x: UnsafePointer<Float>, count: Int, gain: UnsafePointer<Float>, eps: Float,
                        into y: UnsafeMutablePointer<Float>) {
        let meanSquare = sumOfSquares(x, count: count) / Float(count)
        let scale = 1 / (meanSquare + eps).squareRoot()
        for i in 0 ..< count {
            y[i] = gain[i] * (x[i] * scale)
        }
    }

    /// `torch.nn.LayerNorm`: `(x - mean) / sqrt(var + eps) * gain + bias`, biased variance.
    static func layerNorm(_ x: UnsafePointer<Float>, count: Int, gain: UnsafePointer<Float>,
                          bias: UnsafePointer<Float>, eps: Float, into y: UnsafeMutablePointer<Float>) {
        var sum: Float = 0
        for i in 0 ..< count { sum += x[i] }
        let mean = sum / Float(count)
        var squares: Float = 0
        for i in 0 ..< count {
            let centred = x[i] - mean
            squares += centred * centred
        }
        let scale = 1 / (squares / Float(count) + eps).squareRoot()
        for i in 0 ..< count {
            y[i] = (x[i] - mean) * scale * gain[i] + bias[i]
        }
    }

    /// Σ x², in eight interleaved partial sums so that the compiler can vectorise the loop.
    static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Float {
        sum(count) { x[$0] * x[$0] }
    }

    /// Σ term(i) for i < count, in eight interleaved partial sums (float addition is not
    /// associative, so the compiler would not split one running sum across vector lanes).
    @inline(__always)
    static func sum(_ count: Int, _ term: (Int) -> Float) -> Float {
        var partial: (Float, Float, Float, Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0, 0, 0, 0)
        var i = 0
        while i + 8 <= count {
            partial.0 += term(i)
            partial.1 += term(i + 1)
            partial.2 += term(i + 2)
            partial.3 += term(i + 3)
            partial.4 += term(i + 4)
            partial.5 += term(i + 5)
            partial.6 += term(i + 6)
            partial.7 += term(i + 7)
            i += 8
        }
        var total = ((partial.0 + partial.1) + (partial.2 + partial.3)) + ((partial.4 + partial.5) + (partial.6 + partial.7))
        while i < count {
            total += term(i)
            i += 1
        }
        return total
    }

    // MARK: Activations

    /// SwiGLU: `silu(gate) * up` for each row of a [rows, 2F] buffer holding gate then up,
    /// into [rows, F]. `silu(g) = g / (1 + exp(-g))`, as PyTorch's vectorised SiLU computes it.
    static func siluGate(_ gateUp: UnsafePointer<Float>, rows: Int, width: Int, into y: UnsafeMutablePointer<Float>) {
        forEachChunk(of: rows, minimumChunk: rowsPerThread) { range in
            for row in range {
                let gate = gateUp + row * 2 * width, up = gate + width, out = y + row * width
                for i in 0 ..< width {
                    out[i] = gate[i] / (1 + exp(-gate[i])) * up[i]
                }
            }
        }
    }

    /// Gemma's gated MLP: `gelu_tanh(gate) * up` for each row of a [rows, 2F] buffer holding gate
    /// then up, into [rows, F] (PyTorch's `gelu(approximate="tanh")`, then the product).
    static func geluTanhGate(_ gateUp: UnsafePointer<Float>, rows: Int, width: Int, into y: UnsafeMutablePointer<Float>) {
        forEachChunk(of: rows, minimumChunk: rowsPerThread) { range in
            for row in range {
                let gate = gateUp + row * 2 * width, up = gate + width, out = y + row * width
                for i in 0 ..< width {
                    out[i] = geluTanh(gate[i]) * up[i]
                }
            }
        }
    }

    @inline(__always)
    static func geluTanh(_ v: Float) -> Float {
        0.5 * v * (1 + tanh(geluTanhScale * (v + 0.044715 * (v * v * v))))
    }

    static let geluTanhScale = Float((2 / Double.pi).squareRoot())

    /// GPT-2's `gelu_new` (the tanh approximation), in place:
    /// `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x³)))`.
    static func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        forEachChunk(of: count, minimumChunk: 1 << 14) { range in
            for i in range { x[i] = geluTanh(x[i]) }
        }
    }

    // MARK: Softmax

    /// Softmax of `count` scores in place: `exp(s - max) / Σ exp(s - max)`.
    static func softmax(_ s: UnsafeMutablePointer<Float>, count: Int) {
        let maximum = maximum(s, count: count)
        for i in 0 ..< count { s[i] = exp(s[i] - maximum) }
        let inverse = 1 / sum(count) { s[$0] }
        for i in 0 ..< count { s[i] *= inverse }
    }

    /// The largest of `count` floats (-inf for none), in eight interleaved partial maxima: a
    /// compare-and-select per lane (`Swift.max` orders NaN, which keeps the loop scalar).
    static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        @inline(__always) func larger(_ a: Float, _ b: Float) -> Float { a > b ? a : b }
        var partial: (Float, Float, Float, Float, Float, Float, Float, Float) =
            (-.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity)
        var i = 0
        while i + 8 <= count {
            partial.0 = larger(x[i], partial.0)
            partial.1 = larger(x[i + 1], partial.1)
            partial.2 = larger(x[i + 2], partial.2)
            partial.3 = larger(x[i + 3], partial.3)
            partial.4 = larger(x[i + 4], partial.4)
            partial.5 = larger(x[i + 5], partial.5)
            partial.6 = larger(x[i + 6], partial.6)
            partial.7 = larger(x[i + 7], partial.7)
            i += 8
        }
        var result = larger(larger(larger(partial.0, partial.1), larger(partial.2, partial.3)),
                            larger(larger(partial.4, partial.5), larger(partial.6, partial.7)))
        while i < count {
            result = larger(x[i], result)
            i += 1
        }
        return result
    }

    // MARK: Element-wise arithmetic

    /// `x += y` over `count` floats.
    static func add(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0 ..< count { x[i] += y[i] }
    }

    /// Adds `bias` to the first `bias.count` floats of each row.
    static func addBias(_ bias: UnsafePointer<Float>, count: Int, to rows: UnsafeMutablePointer<Float>,
                        rowCount: Int, stride: Int) {
        for row in 0 ..< rowCount {
            let r = rows + row * stride
            for i in 0 ..< count { r[i] += bias[i] }
        }
    }

    /// e^x for float32, within 2 ulp: Cody-Waite reduction `x = n·ln2 + r` with |r| <= ln2/2, a
    /// degree-6 polynomial for e^r (Cephes' expf coefficients), and 2^n put in the exponent bits.
    /// Plain arithmetic, so that loops over it vectorise (libm's expf is a call per element).
    /// Inputs are clamped to [-87.3, 88.4], where e^x is a normal float, by compare-and-select
    /// (one vector min and max; `Swift.min` and `max` order NaN, which costs a blend per bound).
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let low: Float = -87.336_54, high: Float = 88.376_26
        let above = x < low ? low : x
        let x = above > high ? high : above
        // Adding 1.5·2²³ rounds x·log2(e) to the nearest integer n and leaves n in the low mantissa bits.
        let shifter: Float = 12_582_912
        let shifted = x * 1.442_695_04 + shifter
        let n = shifted - shifter
        let r = (x - n * 0.693_359_375) - n * -2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let expR = p * (r * r) + r + 1
        let twoToN = Float(bitPattern: (shifted.bitPattern &- shifter.bitPattern &+ 127) &<< 23)
        return expR * twoToN
    }
}
