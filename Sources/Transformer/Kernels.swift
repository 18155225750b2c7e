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

    /// Runs `body(i)` for every i in `0..<count` on `coreCount` threads (`WorkerPool`). Each call
    /// must touch only its own part of the data (the kernels here write disjoint rows or heads).
    static func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        WorkerPool.shared.run(count, threads: coreCount, body)
    }

    /// Rows of work below which element-wise kernels stay on one thread.
    static let rowsPerThread = 16

    // MARK: Normalisation

    /// HF's RMSNorm: `gain * (x * rsqrt(mean(x²) + eps))`, the squares summed in eight interleaved partial sums.
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

    // MARK: Activations

    /// The activation of a gated MLP: SwiGLU's silu (`g / (1 + exp(-g))`, as PyTorch's vectorised
    /// SiLU computes it) or GeGLU's tanh GELU (PyTorch's `gelu(approximate="tanh")`).
    enum Gate: Sendable {
        case silu, geluTanh
    }

    /// `gate(g) * up` for the hidden units `units` of each of `rows` rows of a [rows, 2F] buffer
    /// holding gate then up, into those units of [rows, F], on the calling thread (the cores each
    /// take their own units, `WeightMatrix.multiplyGated`).
    static func gated(_ gate: Gate, _ gateUp: UnsafePointer<Float>, rows: Int, width: Int, units: Range<Int>,
                      into y: UnsafeMutablePointer<Float>) {
        for row in 0 ..< rows {
            let g = gateUp + row * 2 * width + units.lowerBound, up = g + width, out = y + row * width + units.lowerBound
            switch gate {
            case .silu:
                qk_silu_gate(g, up, out, units.count)
            case .geluTanh:
                for i in 0 ..< units.count { out[i] = geluTanh(g[i]) * up[i] }
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

    /// Softmax of `count` scores in place: `exp(s - max) / Σ exp(s - max)` (VectorKernels' `qk_softmax`).
    static func softmax(_ s: UnsafeMutablePointer<Float>, count: Int) {
        qk_softmax(s, count)
    }

    // MARK: Element-wise arithmetic

    /// `x += y` over `count` floats, shared over the cores (the rows of `y` come from products
    /// that every core wrote a part of).
    static func add(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count: Int) {
        forEachChunk(of: count, minimumChunk: 1 << 14) { range in
            qk_add(x + range.lowerBound, y + range.lowerBound, range.count)
        }
    }

    /// `x += y` over one row (or any `count` floats), on the calling thread.
    @inline(__always)
    static func addRow(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count: Int) {
        qk_add(x, y, count)
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
