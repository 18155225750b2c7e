import XCTest
@testable import RunStore
import CHDF5

final class HDF5LinkTests: XCTestCase {
    func testLibraryVersionIs110OrLater() {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        XCTAssertEqual(H5get_libversion(&major, &minor, &release), 0)
        XCTAssertGreaterThanOrEqual(major * 100 + minor, 110)
    }
}
