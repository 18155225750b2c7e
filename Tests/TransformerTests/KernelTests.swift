import Foundation
import XCTest
@testable import Transformer

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
}
