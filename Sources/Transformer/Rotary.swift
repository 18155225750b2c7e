import Foundation

/// Rotary position embedding in Hugging Face's half-split layout: dimension i of a head is paired
/// with dimension i + d/2 (`rotate_half`), both turned by the angle `position · θ^(-2i/d)`.
struct RotaryEmbedding: Sendable {
    let headDim: Int
    /// θ^(-2i/d) for i < d/2, computed in float32 as transformers does.
    let inverseFrequencies: [Float]

    init(theta: Float, headDim: Int) {
        self.headDim = headDim
        inverseFrequencies = (0 ..< headDim / 2).map { i in
            1 / pow(theta, Float(2 * i) / Float(headDim))
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
                cosines[row * half + i] = cos(angle)
                sines[row * half + i] = sin(angle)
            }
        }
        return Table(positions: positions, cos: cosines, sin: sines)
    }

    /// Rotates `heads` heads of `rows` rows in place; row r starts at `x + r * stride` and holds
    /// the heads back to back. `x·cos + rotate_half(x)·sin`, where rotate_half(x) = [-x₂, x₁].
    func apply(to x: UnsafeMutablePointer<Float>, rows: Int, stride: Int, heads: Int, table: Table) {
        let half = headDim / 2
        table.cos.withUnsafeBufferPointer { cos in
            table.sin.withUnsafeBufferPointer { sin in
                for row in 0 ..< rows {
                    let c = cos.baseAddress! + row * half, s = sin.baseAddress! + row * half
                    for head in 0 ..< heads {
                        let first = x + row * stride + head * headDim, second = first + half
                        for i in 0 ..< half {
                            let a = first[i], b = second[i]
                            first[i] = a * c[i] - b * s[i]
                            second[i] = b * c[i] + a * s[i]
                        }
                    }
                }
            }
        }
    }
}
