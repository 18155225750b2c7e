import CBLAS
import Foundation

/// Matrix products through OpenBLAS (row-major, float32). OpenBLAS threads each large product
/// over every core.
enum BLAS {
    /// The OpenBLAS kernel set in use (e.g. "Haswell", "SkylakeX"): OpenBLAS picks it for the
    /// CPU when it loads, unless `OPENBLAS_CORETYPE` names one.
    static var kernels: String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    /// `c = alpha · a · op(b) + beta · c`, where `a` is [m, k] and `op(b)` is [k, n]: `b` itself
    /// when `transposeB` is false, else `b` is stored [n, k] (a weight matrix [out, in]).
    /// Leading dimensions are the row strides of the stored matrices.
    static func gemm(
        m: Int, n: Int, k: Int,
        _ a: UnsafePointer<Float>, lda: Int,
        _ b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        _ c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
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

    /// Runs `body` with each product on the calling thread only, for callers that spread many
    /// small products over the cores themselves: OpenBLAS's own threads would cost more to wake
    /// for each of them than they save.
    static func singleThreaded<T>(_ body: () -> T) -> T {
        let threads = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(threads) }
        return body()
    }

    /// Sizes reach BLAS only after the model's shapes were validated, so they fit its 32-bit ints.
    private static func blasInt(_ value: Int) -> blasint { blasint(value) }
}
