import XCTest
@testable import Transformer

final class WorkerPoolTests: XCTestCase {
    /// Every index of every step runs exactly once, on 2 and 3 threads, across the wrap of the
    /// generation counter, with steps of 1 to 300 indices back to back.
    func testEveryIndexRunsOnceAcrossTheGenerationWrap() {
        let pool = WorkerPool(firstGeneration: WorkerPool.generationMask - 20)
        let runs = UnsafeMutablePointer<Int>.allocate(capacity: 300)
        defer { runs.deallocate() }
        for step in 0 ..< 60 {
            let count = [1, 2, 3, 17, 300][step % 5], threads = 2 + step % 2
            runs.initialize(repeating: 0, count: count)
            pool.run(count, threads: threads) { index in
                // A little work, so that the threads overlap.
                var spin = 0.0
                for k in 0 ..< 500 { spin += Double(k ^ index) }
                runs[index] += spin > -1 ? 1 : 0
            }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: runs, count: count)), Array(repeating: 1, count: count),
                           "step \(step): \(count) indices on \(threads) threads")
        }
    }

    /// A step started inside a step (the pool busy) still runs every index once.
    func testNestedStepsRunEveryIndex() {
        let pool = WorkerPool()
        let runs = UnsafeMutablePointer<Int>.allocate(capacity: 4 * 8)
        runs.initialize(repeating: 0, count: 4 * 8)
        defer { runs.deallocate() }
        pool.run(4, threads: 2) { outer in
            pool.run(8, threads: 2) { inner in runs[outer * 8 + inner] += 1 }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: runs, count: 32)), Array(repeating: 1, count: 32))
    }

    /// After a pause long enough for the workers to sleep, a step wakes them and completes.
    func testStepsCompleteAfterTheWorkersSleep() {
        let pool = WorkerPool()
        var total = 0
        for _ in 0 ..< 3 {
            let sums = UnsafeMutablePointer<Int>.allocate(capacity: 2)
            pool.run(2, threads: 2) { sums[$0] = $0 + 1 }
            total += sums[0] + sums[1]
            sums.deallocate()
            usleep(UInt32(3 * WorkerPool.spinNanoseconds / 1000))
        }
        XCTAssertEqual(total, 9)
    }
}
