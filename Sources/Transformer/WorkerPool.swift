import Foundation
import Synchronization
import VectorKernels
#if canImport(Glibc)
import Glibc
#endif

/// Threads that stay awake between the parallel steps of a forward pass.
///
/// A pass is a few hundred short parallel steps (a norm over 256 rows takes tens of
/// microseconds). Handing each to a sleeping worker costs about as much as the step, so a
/// `DispatchQueue.concurrentPerform` of two iterations mostly runs both on the caller. These
/// workers spin on the job word for `spinNanoseconds` after each step and only then sleep, so the
/// next step finds them running. Which thread runs an index does not change its result.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// How long an idle worker watches for the next step before it sleeps: longer than the gaps
    /// inside a pass, short enough that a finished pass leaves no core busy for long.
    static let spinNanoseconds: UInt64 = 200_000

    /// With more threads than cores a spinning worker would take a core from one with work to do,
    /// so then the workers sleep as soon as a step ends.
    private static let cores = ProcessInfo.processInfo.activeProcessorCount

    /// `pause`s the caller spins for the rest of a step before it yields (tens of microseconds to
    /// about 150, by CPU).
    private static let spinsBeforeYielding = 4096

    /// The job word: generation (24 bits), index count (20 bits), next unclaimed index (20 bits).
    /// Claiming an index is one compare-and-exchange on the whole word, so a worker late for one
    /// step can never claim an index of the next.
    private let job: Atomic<UInt64>
    private static let indexBits: UInt64 = 20
    static let generationMask: UInt64 = 1 << (64 - 2 * indexBits) - 1
    static let maximumCount = 1 << 20 - 1

    private let finished = Atomic<Int>(0)
    private let inUse = Atomic<Bool>(false)
    /// Workers with a number at or above this skip a step (the thread count was lowered).
    private let participants = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    /// The step's body, on the caller's stack: read only by whoever holds a claimed index.
    private nonisolated(unsafe) var body: UnsafeRawPointer?
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let workers = Mutex<Int>(0)

    /// `firstGeneration` lets a test start a pool just before the generation wraps.
    init(firstGeneration: UInt64 = 0) {
        job = Atomic(firstGeneration << (2 * Self.indexBits))
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
    }

    private static func generation(_ word: UInt64) -> UInt64 { word >> (2 * indexBits) }

    /// Runs `body(i)` for every i in `0..<count`, on the caller and `threads - 1` workers. A
    /// nested or concurrent call (the pool is busy) runs on libdispatch instead.
    func run(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        guard count > 1, threads > 1, count <= Self.maximumCount,
              inUse.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else {
            if count == 1 || threads == 1 {
                for index in 0 ..< count { body(index) }
            } else {
                withoutActuallyEscaping(body) { body in
                    // The indices are disjoint work, so sharing the closure cannot race.
                    nonisolated(unsafe) let body = body
                    DispatchQueue.concurrentPerform(iterations: count) { body($0) }
                }
            }
            return
        }
        defer { inUse.store(false, ordering: .releasing) }
        startWorkers(threads - 1)
        participants.store(threads, ordering: .sequentiallyConsistent)
        withoutActuallyEscaping(body) { body in
            withUnsafePointer(to: body) { pointer in
                self.body = UnsafeRawPointer(pointer)
                finished.store(0, ordering: .sequentiallyConsistent)
                let generation = (Self.generation(job.load(ordering: .sequentiallyConsistent)) + 1) & Self.generationMask
                job.store(generation << (2 * Self.indexBits) | UInt64(count) << Self.indexBits, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    pthread_mutex_lock(lock)
                    pthread_cond_broadcast(wake)
                    pthread_mutex_unlock(lock)
                }
                claimAndRun(generation: generation)
                // A thread still at work may have lost its core (more threads than cores, or
                // another process): after a short spin, give the core up while waiting.
                var waits = 0
                while finished.load(ordering: .sequentiallyConsistent) < count {
                    waits += 1
                    if threads > Self.cores || waits > Self.spinsBeforeYielding { sched_yield() } else { qk_spin_pause() }
                }
                self.body = nil
            }
        }
    }

    /// Claims indices of step `generation` one at a time and runs them until none is left.
    private func claimAndRun(generation: UInt64) {
        var word = job.load(ordering: .sequentiallyConsistent)
        let mask = UInt64(Self.maximumCount)
        while Self.generation(word) == generation, word & mask < word >> Self.indexBits & mask {
            let (claimed, current) = job.compareExchange(expected: word, desired: word + 1, ordering: .sequentiallyConsistent)
            guard claimed else {
                word = current
                continue
            }
            // The step cannot finish before this index does, so its body is still there.
            body!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(word & mask))
            finished.add(1, ordering: .sequentiallyConsistent)
            word = job.load(ordering: .sequentiallyConsistent)
        }
    }

    private func startWorkers(_ needed: Int) {
        workers.withLock { started in
            while started < needed {
                started += 1
                let number = started
                let thread = Thread { [self] in workerLoop(number: number) }
                thread.stackSize = 8 << 20
                thread.name = "qkprobe-worker-\(number)"
                thread.start()
            }
        }
    }

    private func workerLoop(number: Int) {
        var seen = Self.generation(job.load(ordering: .sequentiallyConsistent))
        while true {
            var spinStart: UInt64 = 0, spins = 0
            while Self.generation(job.load(ordering: .sequentiallyConsistent)) == seen {
                qk_spin_pause()
                spins += 1
                guard spins & 255 == 0 else { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                let oversubscribed = participants.load(ordering: .relaxed) > Self.cores
                if spinStart == 0, !oversubscribed {
                    spinStart = now
                } else if oversubscribed || now - spinStart > Self.spinNanoseconds {
                    pthread_mutex_lock(lock)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while Self.generation(job.load(ordering: .sequentiallyConsistent)) == seen {
                        pthread_cond_wait(wake, lock)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(lock)
                }
            }
            seen = Self.generation(job.load(ordering: .sequentiallyConsistent))
            if number < participants.load(ordering: .sequentiallyConsistent) {
                claimAndRun(generation: seen)
            }
        }
    }
}
