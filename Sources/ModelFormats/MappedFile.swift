import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory for the object's lifetime.
///
/// Model files are large and read piecewise: mapping lets the kernel page weights in on demand
/// and share them between processes, instead of copying gigabytes onto the heap.
/// Safe to share across threads: the mapping is read-only and never changes after `init`.
final class MappedFile: @unchecked Sendable {
    let path: String
    /// The file's bytes; valid as long as this object is alive.
    let bytes: UnsafeRawBufferPointer

    init(url: URL) throws {
        path = url.path
        try RegularFile.ensure(url)
        let fd = open(url.path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else {
            throw ModelFormatError(url.path, "cannot open file: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelFormatError(url.path, "cannot stat file: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelFormatError(url.path, "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else {
            // mmap rejects zero-length mappings; an empty file is simply a truncated one.
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw ModelFormatError(url.path, "cannot map file: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    var count: Int { bytes.count }
}
