import Foundation
import Pipeline

/// Writing a command's text output (a report, an SVG) to a file: never over one of the command's
/// inputs or over a run file, over another existing file only when told, and never half-written
/// (a temporary file renamed into place). Failures are one line with the system's reason.
enum OutputFile {
    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    /// The first bytes of every HDF5 file.
    private static let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    static func write(_ text: String, to path: String, overwrite: Bool, protecting inputs: [String]) throws {
        let url = URL(fileURLWithPath: path)
        try OutputGuard.ensureNotAnInput(url, inputs: inputs.map { URL(fileURLWithPath: $0) })
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw Refusal(description: "\(path): is a folder; give a file name") }
            if startsWithHDF5Signature(path) { throw Refusal(description: "\(path): is an HDF5 file; a report never replaces one") }
            guard overwrite else { throw Refusal(description: "\(path): already exists (pass --force to replace it)") }
        }
        try writeAtomically(Array(text.utf8), to: path)
    }

    private static func startsWithHDF5Signature(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return Array(handle.readData(ofLength: hdf5Signature.count)) == hdf5Signature
    }

    /// Writes to `path.partial`, then renames it over `path`: a failure (a full disk) leaves the
    /// old file, or none, never a truncated one.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".partial"
        func fail(_ what: String) -> Refusal {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            return Refusal(description: "\(path): cannot \(what): \(reason)")
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw fail("be written") }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                let error = fail("be written")
                close(descriptor)
                throw error
            }
            written += result
        }
        if close(descriptor) != 0 { throw fail("be written") }
        if rename(temporary, path) != 0 { throw fail("be moved into place") }
    }
}
