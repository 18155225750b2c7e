import Foundation
import VectorKernels

/// Rotary position embedding in Hugging Face's half-split layout: dimension i of a head is paired
/// with dimension i + d/2 (`rotate_half`), both turned by the angle `position · θ^(-2i/d)`.
struct RotaryEmbedding: Sendable {
    let headDim: Int
    /// θ^(-2i/d) for i < d/2, computed in float32 as transformers does, then scaled.
    let inverseFrequencies: [Float]
    /// cos and sin are multiplied by this (YaRN's attention factor; 1 otherwise).
    let attentionFactor: Float

    init(theta: Float, headDim: Int, scaling: RopeScaling? = nil, frequencyDivisors: [Float]? = nil) {
        self.headDim = headDim
        let half = headDim / 2
        let base = (0 ..< half).map { i in 1 / pow(theta, Float(2 * i) / Float(headDim)) }
        var factor: Float = 1
        switch scaling {
        case nil:
            inverseFrequencies = base
        case let .linear(scale):
            inverseFrequencies = base.map { $0 / scale }
        case .frequencyDivisors:
            // llama.cpp: each frequency divided by the stored factor (Llama 3's, precomputed).
            inverseFrequencies = zip(base, frequencyDivisors ?? []).map { $0 / $1 }
        case let .llama3(scale, low, high, original):
            inverseFrequencies = Self.llama3(base, factor: scale, low: low, high: high, originalContext: original)
        case let .yarn(scale, original, betaFast, betaSlow, attention, truncate):
            inverseFrequencies = Self.yarn(theta: theta, headDim: headDim, factor: scale, originalContext: original,
                                           betaFast: betaFast, betaSlow: betaSlow, truncate: truncate)
            factor = attention
        }
        attentionFactor = factor
    }

    /// transformers' `_compute_llama3_parameters`, in float32 in its order of operations:
    /// wavelengths beyond `original / low` are divided by `factor`, those below `original / high`
    /// kept, and those between interpolated.
    static func llama3(_ inverse: [Float], factor: Float, low: Float, high: Float, originalContext: Int) -> [Float] {
        let original = Float(originalContext)
        let lowWavelength = original / low, highWavelength = original / high
        return inverse.map { frequency in
            let wavelength = 2 * Float.pi / frequency
            let scaled = wavelength > lowWavelength ? frequency / factor : frequency
            guard !(wavelength < highWavelength), !(wavelength > lowWavelength) else { return scaled }
            let smooth = (original / wavelength - low) / (high - low)
            return (1 - smooth) * scaled / factor + smooth * scaled
        }
    }

    /// transformers' `_compute_yarn_parameters`: interpolated frequencies θ^(2i/d)·factor below a
    /// correction range of dimensions, original ones above it, a linear ramp between.
    static func yarn(theta: Float, headDim: Int, factor: Float, originalContext: Int, betaFast: Float, betaSlow: Float,
                     truncate: Bool) -> [Float] {
        let dim = Double(headDim), base = Double(theta)
        func correctionDimension(_ rotations: Double) -> Double {
            dim * log(Double(originalContext) / (rotations * 2 * Double.pi)) / (2 * log(base))
        }
        var low = correctionDimension(Double(betaFast)), high = correctionDimension(Double(betaSlow))
        if truncate {
            low = low.rounded(.down)
            high = high.rounded(.up)
        }
        low = max(low, 0)
        high = min(high, dim - 1)
        if low == high { high += 0.001 }
        return (0 ..< headDim / 2).map { i in
            let position = pow(theta, Float(2 * i) / Float(headDim))
            let extrapolation = 1 / position, interpolation = 1 / (factor * position)
            let ramp = min(max((Float(i) - Float(low)) / Float(high - low), 0), 1)
            let extrapolationWeight = 1 - ramp
            return interpolation * (1 - extrapolationWeight) + extrapolation * extrapolationWeight
        }
    }

    /// cos and sin of each angle, [positions.count, d/2] each, shared by every head and layer.
    struct Table {
        let positions: [Int]
        let cos: [Float]
        let sin: [Float]
    }

    func table(for positions: [Int]) -> Table {
        let half = headDim / 2
        var cosines = [Float](repeating: 0, count: positions.count * half)
        var sines = cosines
        for (row, position) in positions.enumerated() {
            for i in 0 ..< half {
                // HF multiplies in float32 (position × inverse frequency), then takes cos and sin.
                let angle = Float(position) * inverseFrequencies[i]
                cosines[row * half + i] = cos(angle) * attentionFactor
                sines[row * half + i] = sin(angle) * attentionFactor
            }
        }
        return Table(positions: positions, cos: cosines, sin: sines)
    }

    /// Rotates `heads` heads of `rows` rows in place, the rows shared over the cores; row r starts
    /// at `x + r * stride` and holds the heads back to back. `x·cos + rotate_half(x)·sin`, where
    /// rotate_half(x) = [-x₂, x₁]. Each core then calls `then` on the rows it turned, while they
    /// are in its cache.
    func apply(to x: UnsafeMutablePointer<Float>, rows: Int, stride: Int, heads: Int, table: Table,
               then: (Range<Int>) -> Void = { _ in }) {
        let half = headDim / 2
        table.cos.withUnsafeBufferPointer { cos in
            table.sin.withUnsafeBufferPointer { sin in
                Kernels.forEachChunk(of: rows, minimumChunk: Kernels.rowsPerThread) { range in
                    for row in range {
                        let c = cos.baseAddress! + row * half, s = sin.baseAddress! + row * half
                        for head in 0 ..< heads {
                            let first = x + row * stride + head * headDim
                            qk_rotate_half(first, first + half, c, s, half)
                        }
                    }
                    then(range)
                }
            }
        }
    }
}
