import Foundation
import Synchronization
import VectorKernels

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

    /// HF's RMSNorm: `gain * (x * rsqrt(mean(x²) + eps))`, the squares summed in `sum`'s eight partial sums.
    static func rmsNorm(_ x: UnsafePointer<Float>, count: Int, gain: UnsafePointer<Float>, eps: Float,
                        into y: UnsafeMutablePointer<Float>) {
        qk_rms_norm(x, count, gain, eps, y)
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
                let gate = gateUp + row * 2 * width
                qk_silu_gate(gate, gate + width, y + row * width, width)
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
        qk_exp_shifted(s, count, maximum)
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

    /// `x += y` over `count` floats, shared over the cores (the rows of `y` come from products
    /// that every core wrote a part of).
    static func add(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count: Int) {
        forEachChunk(of: count, minimumChunk: 1 << 14) { range in
            qk_add(x + range.lowerBound, y + range.lowerBound, range.count)
        }
    }

    /// Adds `bias` to the first `bias.count` floats of each row.
    static func addBias(_ bias: UnsafePointer<Float>, count: Int, to rows: UnsafeMutablePointer<Float>,
                        rowCount: Int, stride: Int) {
        for row in 0 ..< rowCount {
            let r = rows + row * stride
            for i in 0 ..< count { r[i] += bias[i] }
        }
    }

    /// e^x for float32, within 2 ulp (VectorKernels' `qk_exp`, which the softmax and SiLU loops use).
    @inline(__always)
    static func exp(_ x: Float) -> Float { qk_exp(x) }
}
