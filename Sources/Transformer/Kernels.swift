import Foundation

/// The element-wise and row-wise operations of a forward pass, on raw float32 rows, written to
/// round like PyTorch's float32 CPU kernels (same formulas, same order of the final operations).
enum Kernels {
    // MARK: Work sharing

    static let coreCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

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

    /// Σ x², with eight partial sums so the loop vectorises.
    static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var partial = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            partial += v * v
            i += 8
        }
        var sum = partial.sum()
        while i < count {
            sum += x[i] * x[i]
            i += 1
        }
        return sum
    }

    // MARK: Activations

    /// SwiGLU: `silu(gate) * up` for each row of a [rows, 2F] buffer holding gate then up,
    /// into [rows, F]. `silu(g) = g / (1 + exp(-g))`, as PyTorch's vectorised SiLU computes it.
    static func siluGate(_ gateUp: UnsafePointer<Float>, rows: Int, width: Int, into y: UnsafeMutablePointer<Float>) {
        forEachChunk(of: rows, minimumChunk: rowsPerThread) { range in
            for row in range {
                let gate = gateUp + row * 2 * width, up = gate + width, out = y + row * width
                var i = 0
                while i + 8 <= width {
                    let g = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD8<Float>.self)
                    let u = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD8<Float>.self)
                    let silu = g / (1 + exp(-g))
                    UnsafeMutableRawPointer(out + i).storeBytes(of: silu * u, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < width {
                    out[i] = gate[i] / (1 + Foundation.exp(-gate[i])) * up[i]
                    i += 1
                }
            }
        }
    }

    /// GPT-2's `gelu_new` (the tanh approximation), in place:
    /// `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x³)))`.
    static func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let c = Float((2 / Double.pi).squareRoot())
        forEachChunk(of: count, minimumChunk: 1 << 14) { range in
            for i in range {
                let v = x[i]
                x[i] = 0.5 * v * (1 + tanh(c * (v + 0.044715 * (v * v * v))))
            }
        }
    }

    // MARK: Softmax

    /// Softmax of `count` scores in place: `exp(s - max) / Σ exp(s - max)`.
    static func softmax(_ s: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0 ..< count { maximum = max(maximum, s[i]) }
        var partial = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            let e = exp(UnsafeRawPointer(s + i).loadUnaligned(as: SIMD8<Float>.self) - maximum)
            UnsafeMutableRawPointer(s + i).storeBytes(of: e, as: SIMD8<Float>.self)
            partial += e
            i += 8
        }
        var sum = partial.sum()
        while i < count {
            s[i] = Foundation.exp(s[i] - maximum)
            sum += s[i]
            i += 1
        }
        let inverse = 1 / sum
        for i in 0 ..< count { s[i] *= inverse }
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

    /// `exp` on eight lanes: Cody-Waite reduction `x = n·ln2 + r`, a degree-6 polynomial for e^r on
    /// |r| <= ln2/2 (Cephes' expf coefficients, under 2 ulp), scaled by 2^n through the exponent bits.
    /// Inputs are clamped to [-87.3, 88.3], where e^x stays a normal float.
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let x = x.clamped(lowerBound: SIMD8(repeating: -87.33654), upperBound: SIMD8(repeating: 88.37626))
        // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low mantissa bits.
        let shifter: Float = 12_582_912
        let shifted = x * 1.442_695_04 + shifter
        let n = shifted - shifter
        let r = (x - n * 0.693_359_375) - n * -2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let expR = p * (r * r) + r + 1
        let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- Int32(bitPattern: shifter.bitPattern)
        let twoToN = unsafeBitCast((exponent &+ 127) &<< 23, to: SIMD8<Float>.self)
        return expR * twoToN
    }
}
