import XCTest
@testable import Transformer

final class IdealPassTests: XCTestCase {
    /// The cold ideal reads each matrix from memory, as a pass does: between two uses of one copy
    /// at least `evictionBytes` of other copies are read, unless every call has a copy of its own.
    func testColdCopiesLeaveEnoughOtherWeightsBetweenUsesOfOneCopy() {
        let eviction = IdealPass.evictionBytes
        for bytes in [1 << 10, 1_327_104, 7_077_888, eviction / 3, eviction - 1, eviction, 2 * eviction, 360 << 20] {
            for count in [1, 2, 29, 30, 1000] {
                let copies = IdealPass.coldCopies(bytes: bytes, count: count)
                XCTAssertGreaterThanOrEqual(copies, 1, "\(bytes) bytes, \(count) calls")
                XCTAssertLessThanOrEqual(copies, count, "\(bytes) bytes, \(count) calls")
                if copies < count {
                    XCTAssertGreaterThanOrEqual((copies - 1) * bytes, eviction, "\(bytes) bytes, \(count) calls")
                    // And no more copies than that takes.
                    XCTAssertLessThan((copies - 2) * bytes, eviction, "\(bytes) bytes, \(count) calls")
                }
            }
        }
        // SmolLM2's gate/up matrix (3072 x 576 floats) for 29 calls: 39 copies would be needed, so each call has its own.
        XCTAssertEqual(IdealPass.coldCopies(bytes: 3072 * 576 * 4, count: 29), 29)
    }

    /// Both ideals run every product and time each shape.
    func testColdAndWarmIdealsTimeEveryShape() {
        let products: [(shape: Transformer.ProductShape, count: Int)] = [
            (Transformer.ProductShape(m: 8, n: 48, k: 32), 3), (Transformer.ProductShape(m: 1, n: 40, k: 16), 1),
        ]
        let pass = IdealPass(products)
        defer { pass.deallocate() }
        for warm in [false, true] {
            let perCall = pass.run(warm: warm)
            XCTAssertEqual(perCall.count, 2)
            XCTAssertTrue(perCall.allSatisfy { $0 > 0 }, "\(perCall)")
            XCTAssertEqual(pass.passSeconds(perCall), perCall[0] * 3 + perCall[1], accuracy: 1e-12)
        }
    }
}
