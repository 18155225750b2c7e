import Crypto
import Foundation

public enum FileDigest {
    /// The SHA-256 of a file as lowercase hex, read in 4 MiB pieces so memory stays flat.
    public static func sha256(of url: URL) throws -> String {
        try RegularFile.ensure(url)
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw ModelFormatError(url.path, "cannot open file")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 4 << 20) ?? Data() } catch {
                throw ModelFormatError(url.path, "read failed")
            }
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hex(hasher.finalize())
    }

    /// The SHA-256 of bytes in memory as lowercase hex.
    public static func sha256(of bytes: UnsafeRawBufferPointer) -> String {
        hex(SHA256.hash(data: bytes))
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
