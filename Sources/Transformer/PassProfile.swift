import Dispatch
import Synchronization

/// Where a forward pass spends its time, stage by stage, for `qkprobe bench --profile`. Off unless
/// switched on; stages are timed on the thread that runs the pass (each stage's parallel work
/// included), so a pass's stages add up to its time.
public enum PassProfile {
    /// `rotary` includes copying the new keys and values into the cache (one step), and `gate_up`
    /// a gated MLP's activation (`activation` is GPT-2's GELU alone).
    public enum Stage: String, CaseIterable, Sendable {
        case embed, norm, qkv, qkNorm = "qk_norm", rotary, attention, output, residualAdd = "residual_add", residualAddNorm = "residual_add_norm"
        case gateUp = "gate_up", activation, down, lmHead = "lm_head"
    }

    private static let enabled = Atomic<Bool>(false)
    private static let totals = Mutex<[Stage: UInt64]>([:])

    /// Starts counting from zero.
    public static func start() {
        totals.withLock { $0 = [:] }
        enabled.store(true, ordering: .relaxed)
    }

    /// Stops counting and returns the seconds per stage since `start()`.
    public static func stop() -> [(stage: Stage, seconds: Double)] {
        enabled.store(false, ordering: .relaxed)
        let snapshot = totals.withLock { $0 }
        return Stage.allCases.map { ($0, Double(snapshot[$0] ?? 0) / 1e9) }
    }

    @inline(__always)
    static func time<T>(_ stage: Stage, _ body: () throws -> T) rethrows -> T {
        guard enabled.load(ordering: .relaxed) else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            totals.withLock { $0[stage, default: 0] += elapsed }
        }
        return try body()
    }
}
