import Foundation
import XCTest
@testable import Transformer
import VectorKernels

final class KernelTests: XCTestCase {
    /// The polynomial exp against libm's, in double precision, across the range softmax and SiLU use.
    func testExpIsWithinTwoUlps() {
        var worst: Double = 0
        for step in 0 ... 200_000 {
            let x = Float(-87 + 175 * Double(step) / 200_000)
            let exact = Foundation.exp(Double(x))
            let error = abs(Double(Kernels.exp(x)) - exact) / Double(Float(exact).ulp)
            worst = max(worst, error)
        }
        XCTAssertLessThanOrEqual(worst, 2, "worst error \(worst) ulp")
        XCTAssertEqual(Kernels.exp(0), 1)
        XCTAssertEqual(Kernels.exp(-200), Kernels.exp(-87.33654), "clamped below")
        XCTAssertTrue(Kernels.exp(200).isFinite, "clamped above")
    }

    /// The vector loops (whichever clone this CPU picked) give the scalar formula's bits for every
    /// element, at lengths that leave remainders after any vector width, with edge inputs.
    func testVectorLoopsGiveTheScalarFormulasBits() {
        let edges: [Float] = [0, -0.0, .leastNonzeroMagnitude, -Float.leastNormalMagnitude / 4, 87.5, -87.5, 100, -100, .infinity, -.infinity, .nan]
        for count in [1, 15, 16, 17, 33, 100, 1000] {
            let gate = (0 ..< count).map { i in i < edges.count ? edges[i] : Float((i * 7919) % 2001) / 50 - 20 }
            let up = (0 ..< count).map { Float(($0 * 104_729) % 997) / 300 - 1.5 }
            var silu = [Float](repeating: 0, count: count)
            qk_silu_gate(gate, up, &silu, count)
            // Masked scores are -inf; +inf or NaN would make every probability NaN.
            let scores = gate.map { $0.isFinite ? $0 : -.infinity }
            var probabilities = scores
            qk_softmax(&probabilities, count)
            let expected = Self.softmax(scores)
            var total = gate
            qk_add(&total, up, count)
            let gain = up.map { $0 + 1 }
            var normalized = [Float](repeating: 0, count: count)
            qk_rms_norm(up, count, gain, 1e-5, &normalized)
            let scale = 1 / (Self.sum(up.map { $0 * $0 }) / Float(count) + 1e-5).squareRoot()
            var first = Array(up[..<(count / 2)]), second = Array(up[(count / 2) ..< (count / 2) * 2])
            let cos = gate[..<(count / 2)].map { Float(Foundation.cos(Double($0))) }
            let sin = gate[..<(count / 2)].map { Float(Foundation.sin(Double($0))) }
            qk_rotate_half(&first, &second, cos, sin, count / 2)
            for i in 0 ..< count / 2 where cos[i].isFinite && sin[i].isFinite {
                let a = up[i], b = up[count / 2 + i]
                XCTAssertEqual(first[i].bitPattern, (a * cos[i] - b * sin[i]).bitPattern, "rotary, count \(count), pair \(i)")
                XCTAssertEqual(second[i].bitPattern, (b * cos[i] + a * sin[i]).bitPattern, "rotary, count \(count), pair \(i)")
            }
            for i in 0 ..< count {
                let expectedSilu = gate[i] / (1 + Kernels.exp(-gate[i])) * up[i]
                XCTAssertTrue(silu[i].bitPattern == expectedSilu.bitPattern || (silu[i].isNaN && expectedSilu.isNaN),
                              "silu, count \(count), element \(i): \(silu[i]) against \(expectedSilu)")
                XCTAssertEqual(probabilities[i].bitPattern, expected[i].bitPattern,
                              "softmax, count \(count), element \(i): \(probabilities[i]) against \(expected[i])")
                XCTAssertEqual(normalized[i].bitPattern, (gain[i] * (up[i] * scale)).bitPattern, "RMSNorm, count \(count), element \(i)")
                XCTAssertTrue(total[i].bitPattern == (gate[i] + up[i]).bitPattern || total[i].isNaN, "sum, count \(count), element \(i)")
            }
        }
    }

    /// Σ values in eight interleaved partial sums (lane k takes i ≡ k mod 8), then the rest in order.
    private static func sum(_ values: [Float]) -> Float {
        var partial = [Float](repeating: 0, count: 8), i = 0
        while i + 8 <= values.count {
            for lane in 0 ..< 8 { partial[lane] += values[i + lane] }
            i += 8
        }
        var total = ((partial[0] + partial[1]) + (partial[2] + partial[3])) + ((partial[4] + partial[5]) + (partial[6] + partial[7]))
        for value in values[i...] { total += value }
        return total
    }

    /// The softmax formula in scalar steps: the largest value (the maximum does not depend on the
    /// order it is taken in), the exponentials, then each times 1 / their sum.
    private static func softmax(_ scores: [Float]) -> [Float] {
        let maximum = scores.reduce(-Float.infinity) { $1 > $0 ? $1 : $0 }
        let exponentials = scores.map { Kernels.exp($0 - maximum) }
        let inverse = 1 / sum(exponentials)
        return exponentials.map { $0 * inverse }
    }

    func testSoftmaxOfARow() {
        var row: [Float] = [1, 2, 3, -1000, 0.5]
        row.withUnsafeMutableBufferPointer { Kernels.softmax($0.baseAddress!, count: $0.count) }
        let exact = [1.0, 2, 3, -1000, 0.5].map { Foundation.exp($0 - 3) }
        let total = exact.reduce(0, +)
        for (value, e) in zip(row, exact) {
            XCTAssertEqual(Double(value), e / total, accuracy: 1e-7)
        }
    }

    func testGlobPatterns() {
        XCTAssertTrue(Transformer.glob("blocks.*.attn.hook_q", matches: "blocks.12.attn.hook_q"))
        XCTAssertFalse(Transformer.glob("blocks.*.attn.hook_q", matches: "blocks.12.attn.hook_qq"))
        XCTAssertTrue(Transformer.glob("*", matches: "hook_embed"))
        XCTAssertTrue(Transformer.glob("blocks.1*.hook_resid_pre", matches: "blocks.17.hook_resid_pre"))
        XCTAssertFalse(Transformer.glob("blocks.1*.hook_resid_pre", matches: "blocks.2.hook_resid_pre"))
        XCTAssertTrue(Transformer.glob("*hook_*", matches: "ln_final.hook_normalized"))
        XCTAssertFalse(Transformer.glob("hook_embed", matches: "hook_pos_embed"))
    }

    /// GGUF rows (llama.cpp's permutation: within each head, row 2j + t holds HF row t·d/2 + j)
    /// go back to HF order.
    func testGGUFQueryKeyRowsReturnToHFOrder() {
        let heads = 2, headDim = 4, columns = 3
        let hf = (0 ..< heads * headDim * columns).map(Float.init)
        var gguf = [Float](repeating: 0, count: hf.count)
        for head in 0 ..< heads {
            for j in 0 ..< headDim / 2 {
                for t in 0 ..< 2 {
                    for c in 0 ..< columns {
                        gguf[(head * headDim + 2 * j + t) * columns + c] = hf[(head * headDim + t * headDim / 2 + j) * columns + c]
                    }
                }
            }
        }
        XCTAssertEqual(LlamaFamily.ggufQueryKeyRowsToHF(gguf, heads: heads, headDim: headDim, columns: columns), hf)
    }

    /// Sliding-window attention against a plain double-precision loop: a query at position p sees
    /// keys p - W + 1 ... p; a branch sits at the first branch position and sees the keys before it
    /// in the window, and itself. Over 64 query rows, so that several blocks of rows run, after a
    /// cached prefix, with the probabilities read through the pattern sink.
    func testSlidingWindowAttentionMatchesADirectComputation() {
        let heads = 4, kvHeads = 2, headDim = 8, cached = 30, trunk = 90, branches = 3, window = 17
        let rows = trunk + branches, keyCount = cached + rows
        var generator = SystemRandomNumberGenerator()
        func random(_ count: Int) -> [Float] { (0 ..< count).map { _ in Float.random(in: -1 ... 1, using: &generator) } }
        let queries = random(rows * heads * headDim)
        let keys = random(keyCount * kvHeads * headDim), values = random(keyCount * kvHeads * headDim)
        let attention = CausalAttention(heads: heads, kvHeads: kvHeads, headDim: headDim, scale: 0.3)
        let branchStart = cached + trunk
        let patternRows = [0, 40, trunk - 1, trunk + 1]
        var z = [Float](repeating: .nan, count: rows * heads * headDim)
        var pattern = [Float](repeating: 0, count: heads * patternRows.count * keyCount)
        queries.withUnsafeBufferPointer { q in
            keys.withUnsafeBufferPointer { k in
                values.withUnsafeBufferPointer { v in
                    z.withUnsafeMutableBufferPointer { out in
                        pattern.withUnsafeMutableBufferPointer { p in
                            attention(queries: q.baseAddress!, queryStride: heads * headDim, rows: rows, start: cached,
                                      keys: k.baseAddress!, values: v.baseAddress!, kvStride: kvHeads * headDim,
                                      branchStart: branchStart, window: window, into: out.baseAddress!, zStride: heads * headDim,
                                      pattern: .init(rows: patternRows, destination: p.baseAddress!, keyCount: keyCount))
                        }
                    }
                }
            }
        }
        for row in 0 ..< rows {
            let position = cached + row, logical = min(position, branchStart)
            let visible = Array(max(0, logical - window + 1) ..< logical) + [position]
            for head in 0 ..< heads {
                let g = head / (heads / kvHeads)
                let scores = visible.map { key in
                    0.3 * (0 ..< headDim).reduce(0.0) { $0 + Double(queries[(row * heads + head) * headDim + $1]) * Double(keys[(key * kvHeads + g) * headDim + $1]) }
                }
                let top = scores.max()!, weights = scores.map { Foundation.exp($0 - top) }, total = weights.reduce(0, +)
                for i in 0 ..< headDim {
                    let expected = zip(visible, weights).reduce(0.0) { $0 + $1.1 / total * Double(values[($1.0 * kvHeads + g) * headDim + i]) }
                    XCTAssertEqual(Double(z[(row * heads + head) * headDim + i]), expected, accuracy: 1e-5, "row \(row) head \(head)")
                }
                if let index = patternRows.firstIndex(of: row) {
                    let probabilities = pattern[((head * patternRows.count) + index) * keyCount ..< ((head * patternRows.count) + index + 1) * keyCount]
                    for key in 0 ..< keyCount {
                        let expected = visible.firstIndex(of: key).map { weights[$0] / total } ?? 0
                        XCTAssertEqual(Double(probabilities[probabilities.startIndex + key]), expected, accuracy: 1e-6, "pattern row \(row) key \(key)")
                    }
                }
            }
        }
    }

    /// A gated MLP's product and activation in one step (each core its own hidden units) against
    /// the whole product, then the activation element by element: a hidden width that is no
    /// multiple of 16, enough work to be shared over the cores, and a single row.
    func testGatedProductMatchesTheProductThenTheActivation() {
        let hidden = 200, columns = 96
        let weights = (0 ..< 2 * hidden * columns).map { Float(($0 * 7919) % 1999) / 1999 - 0.5 }
        let matrix = WeightMatrix(float32: weights, rows: 2 * hidden, columns: columns)
        for rows in [64, 1] {
            let x = (0 ..< rows * columns).map { Float(($0 * 104_729) % 997) / 250 - 2 }
            var whole = [Float](repeating: 0, count: rows * 2 * hidden)
            matrix.multiply(x, rows: rows, into: &whole, ldc: 2 * hidden)
            for gate in [Kernels.Gate.silu, .geluTanh] {
                var wide = [Float](repeating: .nan, count: rows * 2 * hidden)
                var output = [Float](repeating: .nan, count: rows * hidden)
                let linear = Linear(outputs: 2 * hidden, inputs: columns, weight: matrix, bias: nil)
                wide.withUnsafeMutableBufferPointer { w in
                    linear.applyGated(x, rows: rows, wide: w.baseAddress!, gate: gate, into: &output)
                }
                for row in 0 ..< rows {
                    for unit in 0 ..< hidden {
                        let g = whole[row * 2 * hidden + unit], u = whole[row * 2 * hidden + hidden + unit]
                        let expected = gate == .silu ? g / (1 + Kernels.exp(-g)) * u : Kernels.geluTanh(g) * u
                        let actual = output[row * hidden + unit]
                        XCTAssertEqual(actual, expected, accuracy: 1e-5 * max(1, abs(expected)), "\(gate), row \(row), unit \(unit)")
                    }
                }
                XCTAssertFalse(wide.contains { $0.isNaN }, "every gate and up column written")
            }
        }
    }
}
