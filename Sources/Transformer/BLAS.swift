import CBLAS
import Foundation

/// Matrix products through OpenBLAS (row-major, float32).
///
/// OpenBLAS runs every product on its calling thread; `WeightMatrix.multiply` splits a large
/// product into panels of columns shared over the cores. All parallel work of a pass thus shares one pool of threads:
/// OpenBLAS's own workers, which spin for a while after each product they share, would otherwise
/// take a core from the attention and element-wise work that follows (measured: 1.5 times slower).
enum BLAS {
    /// The OpenBLAS kernel set in use (e.g. "Haswell", "SkylakeX"): OpenBLAS picks it for the
    /// CPU when it loads, unless `OPENBLAS_CORETYPE` names one.
    static var kernels: String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    /// Set once, before the first product (process-wide: qkprobe makes no other BLAS calls).
    private static let callerThreadOnly: Void = openblas_set_num_threads(1)

    /// `c = alpha · a · op(b) + beta · c` on the calling thread, where `a` is [m, k] and `op(b)`
    /// is [k, n]: `b` itself when `transposeB` is false, else `b` is stored [n, k] (a weight matrix
    /// [out, in]). Leading dimensions are the row strides of the stored matrices.
    static func gemm(
        m: Int, n: Int, k: Int,
        _ a: UnsafePointer<Float>, lda: Int,
        _ b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        _ c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        _ = callerThreadOnly
        guard m > 0, n > 0 else { return }
        if m == 1 {
            // One row: a matrix-vector product, which OpenBLAS does faster than a 1-row GEMM.
            cblas_sgemv(CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans,
                        blasInt(transposeB ? n : k), blasInt(transposeB ? k : n),
                        alpha, b, blasInt(ldb), a, 1, beta, c, 1)
            return
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(lda), b, blasInt(ldb),
                    beta, c, blasInt(ldc))
    }

    /// Sizes reach BLAS only after the model's shapes were validated, so they fit its 32-bit ints.
    private static func blasInt(_ value: Int) -> blasint { blasint(value) }
}
