import CBLAS

extension Transformer {
    /// The threads OpenBLAS spreads each matrix product over (every core unless set).
    public static var threadCount: Int {
        _ = BLAS.kernels
        return Int(openblas_get_num_threads())
    }

    /// Sets the threads for matrix products, for a run that records and reproduces its setting.
    public static func setThreadCount(_ count: Int) {
        _ = BLAS.kernels
        openblas_set_num_threads(Int32(max(1, count)))
    }
}
