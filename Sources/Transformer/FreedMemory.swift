import VectorKernels

extension Transformer {
    /// Has the C allocator keep memory that is freed for the next allocation instead of handing
    /// it back to the kernel, so that a pass does not fault in its scratch memory afresh.
    ///
    /// A pass allocates its scratch rows, KV cache and attention scores anew (about 22 MB for a
    /// 256-token SmolLM2 pass). With glibc's adaptive thresholds most of it goes back to the
    /// kernel when the pass ends (the free space at the top of the heap outgrows twice the largest
    /// block seen so far), and the next pass faults every page in again: about 5,400 page faults
    /// a pass. It is a setting of the whole process, so a program calls it once at start (the
    /// command line does); without glibc it does nothing.
    public static func keepFreedMemoryForReuse() {
        qk_keep_freed_memory()
    }
}
