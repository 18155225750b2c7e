// HDF5 1.10 trusts the sizes inside a global heap collection (where variable-length strings and
// sequences live): a damaged object size makes H5HG_read copy past the collection and crash the
// process, and a zero-sized free block makes the collection parser loop forever. So before HDF5
// opens a file, every collection in it is parsed here the way HDF5 will parse it, and a file whose
// collections do not add up is refused.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum GlobalHeapCheck {
    /// "GCOL", version 1, three reserved zero bytes: the start of every collection. The NUL bytes
    /// cannot occur inside a stored string, so text never looks like a collection.
    private static let signature: [UInt8] = [0x47, 0x43, 0x4F, 0x4C, 0x01, 0x00, 0x00, 0x00]
    /// Collection header: signature (8 bytes) and the collection's size (8 bytes).
    private static let headerSize = 16
    /// Object header: index (2), reference count (2), reserved (4), size (8).
    private static let objectHeaderSize = 16

    /// Validates every global heap collection in the file at `path`; returns the size of the
    /// largest (0 when there is none), which no object in the file exceeds.
    @discardableResult
    static func validate(_ path: String) throws -> Int {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw RunStoreError(path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw RunStoreError(path, "cannot read: \(String(cString: strerror(errno)))") }
        let length = Int(info.st_size)
        guard length >= signature.count else { return 0 }
        guard let base = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0), base != MAP_FAILED else {
            throw RunStoreError(path, "cannot read: \(String(cString: strerror(errno)))")
        }
        defer { munmap(base, length) }
        let bytes = UnsafeRawBufferPointer(start: base, count: length)
        var largest = 0
        var offset = 0
        while offset + signature.count <= length {
            guard let found = memchr(base + offset, Int32(signature[0]), length - offset) else { break }
            let start = base.distance(to: found)
            offset = start + 1
            guard start + signature.count <= length,
                  signature.indices.allSatisfy({ bytes[start + $0] == signature[$0] }) else { continue }
            largest = max(largest, try collection(at: start, in: bytes, path))
        }
        return largest
    }

    /// Parses one collection as H5HG's cache deserialiser does; returns its size.
    private static func collection(at start: Int, in bytes: UnsafeRawBufferPointer, _ path: String) throws -> Int {
        func damaged(_ problem: String) -> RunStoreError {
            RunStoreError(path, "damaged variable-length data (global heap at byte \(start)): \(problem)")
        }
        guard start + headerSize <= bytes.count else { throw damaged("the heap header runs past the end of the file") }
        let size = load(UInt64.self, bytes, start + 8)
        guard size >= UInt64(headerSize), size <= UInt64(bytes.count - start) else {
            throw damaged("its size \(size) does not fit the file of \(bytes.count) bytes")
        }
        let end = start + Int(size)
        var position = start + headerSize
        while position < end {
            // Too little room left for an object header: HDF5 takes the rest as free space.
            if position + objectHeaderSize > end { break }
            let index = load(UInt16.self, bytes, position)
            let objectSize = load(UInt64.self, bytes, position + 8)
            let room = UInt64(end - position)
            if index == 0 {
                // The free-space object: its size counts its own header and must be the rest.
                guard objectSize > 0, objectSize <= room else {
                    throw damaged("a free block of \(objectSize) bytes where \(room) remain")
                }
                position += Int(objectSize)
            } else {
                guard objectSize <= room - UInt64(objectHeaderSize) else {
                    throw damaged("object \(index) claims \(objectSize) bytes where \(room - UInt64(objectHeaderSize)) remain")
                }
                let padded = (Int(objectSize) + 7) & ~7
                position += objectHeaderSize + padded
            }
        }
        return Int(size)
    }

    private static func load<T: FixedWidthInteger>(_: T.Type, _ bytes: UnsafeRawBufferPointer, _ offset: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
