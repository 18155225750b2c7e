import Foundation

/// Refuses to write over a command's own inputs, whatever the flags: `--force` replaces an old
/// output, never the dataset or the model it was made from.
public enum OutputGuard {
    /// A one-line refusal naming the output file.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Throws when `output` is one of `inputs` or a file inside an input folder: the same file on
    /// disk (through a link too), compared by device and inode. An output that does not exist yet
    /// cannot be an input.
    public static func ensureNotAnInput(_ output: URL, inputs: [URL]) throws {
        guard let target = identity(output.path) else { return }
        for input in inputs {
            if identity(input.path) == target || filesUnder(input).contains(where: { identity($0) == target }) {
                throw Refusal(description: "\(output.path): is an input of this command (\(input.path)); "
                              + "write to another file")
            }
        }
    }

    private struct Identity: Equatable {
        let device: UInt64
        let inode: UInt64
    }

    private static func identity(_ path: String) -> Identity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The files inside a folder (none for a file).
    private static func filesUnder(_ folder: URL) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue,
              let names = FileManager.default.enumerator(atPath: folder.path)?.allObjects as? [String] else { return [] }
        return names.map { folder.path + "/" + $0 }
    }
}
