extension Transformer {
    /// The threads a forward pass shares its work over (every core unless set).
    public static var threadCount: Int { Kernels.coreCount }

    /// Sets the threads for every later forward pass. Work split another way can round
    /// differently in the last bits, so a run that must be reproduced records its count.
    public static func setThreadCount(_ count: Int) {
        Kernels.threadSetting.store(max(1, count), ordering: .relaxed)
    }
}
