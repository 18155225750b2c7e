import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Every input qkprobe reads is a regular file: a FIFO or a device would block the read or never
/// end. Failures are one line with the system's reason (no Foundation error text).
public enum RegularFile {
    /// Throws unless `url` names a regular file (links followed).
    public static func ensure(_ url: URL) throws {
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            throw ModelFormatError(url.path, errno == ENOENT ? "no such file" : "cannot read: \(String(cString: strerror(errno)))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw ModelFormatError(url.path, "is a folder, not a file")
        default: throw ModelFormatError(url.path, "not a regular file")
        }
    }

    /// The whole file, refused when it is larger than `limit` bytes (a JSON or text input).
    public static func contents(of url: URL, limit: Int = 1 << 30) throws -> Data {
        try ensure(url)
        let descriptor = open(url.path, O_RDONLY | O_NONBLOCK)
        guard descriptor >= 0 else { throw ModelFormatError(url.path, "cannot read: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelFormatError(url.path, "not a regular file")
        }
        guard Int(info.st_size) <= limit else {
            throw ModelFormatError(url.path, "is \(info.st_size) bytes, more than the \(limit) this input may have")
        }
        var data = Data(count: Int(info.st_size))
        var done = 0
        while done < data.count {
            let count = data.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + done, $0.count - done) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ModelFormatError(url.path, "cannot read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }  // the file shrank while being read
            done += count
        }
        return data.prefix(done)
    }
}
