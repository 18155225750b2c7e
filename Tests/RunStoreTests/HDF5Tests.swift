import CHDF5
import Foundation
import XCTest
@testable import RunStore

final class HDF5Tests: XCTestCase {
    func testLibraryVersionIs110OrLater() {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        XCTAssertEqual(H5get_libversion(&major, &minor, &release), 0)
        XCTAssertGreaterThanOrEqual(major * 100 + minor, 110)
    }

    func testValuesRoundTrip() throws {
        let path = try makeTemporaryDirectory(self).appendingPathComponent("values.h5").path
        let strings = ["", " True", "naïve ✓", String(repeating: "long ", count: 200)]
        let sequences: [[Int32]] = [[], [7], [Int32.min, 0, Int32.max], Array(0..<1000)]
        let matrix = (0..<12).map { Float($0) - 5.5 }
        do {
            let file = try H5File.create(path)
            try file.createGroup("/g")
            try file.createDataset("/g/strings", element: .utf8String, shape: [4], storage: .compressed(rowsPerChunk: 2))
                .writeStrings(strings)
            try file.createDataset("/g/sequences", element: .int32Sequence, shape: [4], storage: .compressed(rowsPerChunk: 4))
                .writeInt32Sequences(sequences)
            let rows = try file.createDataset("/rows", element: .scalar(Float.self), shape: [4, 3],
                                              storage: .preallocated(fill: H5Fill(Float(-1))))
            try rows.write(row: 2, [1, 2, 3])
            try rows.setAttribute("note", "a dataset attribute")
            try file.createDataset("/matrix", element: .scalar(Float.self), shape: [3, 4],
                                   storage: .compressed(rowsPerChunk: 1)).write(matrix)
            try file.setAttribute("text", "ünïcode")
            try file.setAttribute("count", Int64(-42))
            try file.setAttribute("scale", Float(0.125))
            try file.setAttribute("sizes", [Int16(3), 1, 4], shape: [3])
            try file.flush()
        }
        let file = try H5File.open(path, writable: false)
        XCTAssertEqual(try file.openDataset("/g/strings").readStrings(), strings)
        XCTAssertEqual(try file.openDataset("/g/sequences").readInt32Sequences(), sequences)
        let rows = try file.openDataset("/rows")
        XCTAssertEqual(rows.shape, [4, 3])
        XCTAssertEqual(try rows.read(as: Float.self), [-1, -1, -1, -1, -1, -1, 1, 2, 3, -1, -1, -1])
        XCTAssertEqual(try rows.read(row: 2, as: Float.self), [1, 2, 3])
        XCTAssertEqual(try rows.read(row: 2, as: Double.self), [1, 2, 3], "HDF5 converts on read")
        XCTAssertEqual(try rows.stringAttribute("note"), "a dataset attribute")
        XCTAssertEqual(try file.openDataset("/matrix").read(as: Float.self), matrix)
        XCTAssertEqual(try file.stringAttribute("text"), "ünïcode")
        XCTAssertEqual(try file.attribute("count", as: Int64.self), -42)
        XCTAssertEqual(try file.attribute("count", as: Int32.self), -42)
        XCTAssertEqual(try file.attribute("scale", as: Float.self), 0.125)
        XCTAssertTrue(try file.exists("/g/sequences"))
        XCTAssertFalse(try file.exists("/g/missing"))
        XCTAssertFalse(try file.exists("/nothing/here"))
    }

    /// What h5py writes (fixed-length byte strings, int64 and float64 attributes) reads back.
    func testReadsWhatH5pyWrites() throws {
        let path = try makeTemporaryDirectory(self).appendingPathComponent("h5py.h5").path
        let made = try runPython(["-c", """
            import h5py, numpy as np, sys
            with h5py.File(sys.argv[1], "w") as f:
                f.attrs["fixed"] = np.bytes_("fixed-length")
                f.attrs["variable"] = "variable ✓"
                f.attrs["count"] = 7
                f.attrs["scale"] = 0.5
                f["fixed_strings"] = np.array([b"a", b"bcd", b""], dtype="S3")
                f.create_dataset("strings", data=["x", "yz"], dtype=h5py.string_dtype())
                seq = f.create_dataset("seq", (2,), dtype=h5py.vlen_dtype(np.int32))
                seq[0] = [1, 2, 3]; seq[1] = []
                f["big_endian"] = np.arange(6, dtype=">f4").reshape(2, 3)
            """, path])
        XCTAssertEqual(made.status, 0, made.output)
        let file = try H5File.open(path, writable: false)
        XCTAssertEqual(try file.stringAttribute("fixed"), "fixed-length")
        XCTAssertEqual(try file.stringAttribute("variable"), "variable ✓")
        XCTAssertEqual(try file.attribute("count", as: Int64.self), 7)
        XCTAssertEqual(try file.attribute("scale", as: Float.self), 0.5)
        XCTAssertEqual(try file.openDataset("/fixed_strings").readStrings(), ["a", "bcd", ""])
        XCTAssertEqual(try file.openDataset("/strings").readStrings(), ["x", "yz"])
        XCTAssertEqual(try file.openDataset("/seq").readInt32Sequences(), [[1, 2, 3], []])
        XCTAssertEqual(try file.openDataset("/big_endian").read(row: 1, as: Float.self), [3, 4, 5])
    }

    func testFailuresAreOneLineErrorsNamingTheFile() throws {
        let directory = try makeTemporaryDirectory(self)
        let missing = directory.appendingPathComponent("missing.h5").path
        let text = directory.appendingPathComponent("text.h5").path
        try Data("not hdf5 at all".utf8).write(to: URL(fileURLWithPath: text))
        let good = directory.appendingPathComponent("good.h5").path
        do {
            let file = try H5File.create(good)
            try file.setAttribute("text", "words")
            try file.createDataset("/numbers", element: .scalar(Int32.self), shape: [2],
                                   storage: .preallocated(fill: H5Fill(Int32(0)))).write([Int32(1), 2])
            // Chunks are allocated when written, so this takes no room in the file.
            _ = try file.createDataset("/huge", element: .scalar(Float.self), shape: [1 << 40],
                                       storage: .compressed(rowsPerChunk: 1024))
        }
        let file = try H5File.open(good, writable: false)
        let cases: [(String, () throws -> Void)] = [
            ("\(missing): no such file", { _ = try H5File.open(missing, writable: false) }),
            ("\(text): not an HDF5 file", { _ = try H5File.open(text, writable: false) }),
            ("\(good): missing dataset /nothing", { _ = try file.openDataset("/nothing") }),
            ("\(good): / has no attribute other", { _ = try file.stringAttribute("other") }),
            ("\(good): cannot read attribute text as a number: ", { _ = try file.attribute("text", as: Float.self) }),
            ("\(good): /numbers is not a string", { _ = try file.openDataset("/numbers").readStrings() }),
            ("\(good): row 2 is outside /numbers of shape [2]", { _ = try file.openDataset("/numbers").read(row: 2, as: Int32.self) }),
            ("\(good): cannot write /numbers: ", { try file.openDataset("/numbers").write([Int32(5), 6]) }),
            ("\(good): /huge claims 1099511627776 elements of 4 bytes, too many for a file of ",
             { _ = try file.openDataset("/huge").read(as: Float.self) }),
        ]
        for (expected, body) in cases {
            XCTAssertThrowsError(try body()) { error in
                XCTAssertTrue("\(error)".hasPrefix(expected), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"), "\(error)")
            }
        }
    }
}
