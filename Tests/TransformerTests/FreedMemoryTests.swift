#if canImport(Glibc)
import Glibc
#endif
import XCTest
import Transformer

final class FreedMemoryTests: XCTestCase {
    /// After `keepFreedMemoryForReuse`, memory a pass frees serves the next pass without faulting
    /// its pages in again. Each round allocates 24 MB in 2 MB blocks (a pass's scratch, cache and
    /// scores), writes every page and frees it all; with glibc's adaptive thresholds the free top
    /// of the heap outgrows the trim threshold, goes back to the kernel and faults in again every
    /// round (6,144 pages).
    func testFreedScratchIsReusedWithoutFaultingPagesIn() throws {
        #if canImport(Glibc)
        Transformer.keepFreedMemoryForReuse()
        let blockSize = 2 << 20, pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        func minorFaults() -> Int {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return usage.ru_minflt
        }
        func round() -> Int {
            let before = minorFaults()
            let blocks = (0 ..< 12).map { _ in UnsafeMutablePointer<UInt8>.allocate(capacity: blockSize) }
            for block in blocks {
                for offset in stride(from: 0, to: blockSize, by: pageSize) { block[offset] = 1 }
            }
            for block in blocks { block.deallocate() }
            return minorFaults() - before
        }
        _ = round()
        let faults = (0 ..< 3).map { _ in round() }
        let pages = 12 * blockSize / pageSize
        XCTAssertLessThan(faults.max()!, pages / 10, "page faults per round after the first: \(faults), of \(pages) pages written")
        #else
        throw XCTSkip("the allocator setting is glibc's")
        #endif
    }
}
