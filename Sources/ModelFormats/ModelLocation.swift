import Foundation

/// What a model path points at: a GGUF file, or a Hugging Face model folder
/// (`config.json`, `*.safetensors` or `model.safetensors.index.json`, `tokenizer.json`).
public enum ModelLocation: Sendable, Equatable {
    case gguf(URL)
    case huggingFaceFolder(URL)

    public static let configFileName = "config.json"
    public static let tokenizerFileName = "tokenizer.json"

    /// Decides what `path` is. A file inside a model folder (its `config.json`, a `.safetensors`
    /// shard) stands for the folder.
    public init(path: String) throws {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ModelFormatError(url.path, "no such file or folder")
        }
        if isDirectory.boolValue {
            self = try Self.folder(url)
            return
        }
        // A .gguf name is taken at its word, so a damaged file gets the GGUF reader's precise error.
        if try url.pathExtension.lowercased() == "gguf" || Self.startsWithGGUFMagic(url) {
            self = .gguf(url)
        } else if url.lastPathComponent == Self.configFileName || url.pathExtension == "safetensors"
                    || url.lastPathComponent == SafetensorsCheckpoint.indexFileName {
            self = try Self.folder(url.deletingLastPathComponent())
        } else {
            throw ModelFormatError(url.path, "neither a GGUF file nor a Hugging Face model folder (config.json, *.safetensors, tokenizer.json)")
        }
    }

    public var url: URL {
        switch self {
        case .gguf(let url), .huggingFaceFolder(let url): url
        }
    }

    private static func folder(_ url: URL) throws -> ModelLocation {
        let names = Set((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [])
        var missing: [String] = []
        if !names.contains(configFileName) { missing.append(configFileName) }
        if !names.contains(SafetensorsCheckpoint.indexFileName), !names.contains(where: { $0.hasSuffix(".safetensors") }) {
            missing.append("*.safetensors")
        }
        if !names.contains(tokenizerFileName) { missing.append(tokenizerFileName) }
        guard missing.isEmpty else {
            let ggufs = names.filter { $0.hasSuffix(".gguf") }.sorted()
            let hint = ggufs.isEmpty ? "" : "; for a GGUF file give its path, e.g. \(url.appendingPathComponent(ggufs[0]).path)"
            throw ModelFormatError(url.path, "not a Hugging Face model folder: missing \(missing.joined(separator: ", "))\(hint)")
        }
        return .huggingFaceFolder(url)
    }

    private static func startsWithGGUFMagic(_ url: URL) throws -> Bool {
        try RegularFile.ensure(url)
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw ModelFormatError(url.path, "cannot open file")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4)) ?? Data()
        return head.elementsEqual(GGUFFile.magic)
    }

    /// The files that make up the model, sorted by name: the GGUF file, or the folder's config,
    /// tokenizer, index and weight files.
    public func files() throws -> [URL] {
        switch self {
        case .gguf(let url):
            return [url]
        case .huggingFaceFolder(let url):
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            let wanted = [Self.configFileName, Self.tokenizerFileName, SafetensorsCheckpoint.indexFileName]
            return names.filter { wanted.contains($0) || $0.hasSuffix(".safetensors") }.sorted()
                .map { url.appendingPathComponent($0) }
        }
    }

    /// A SHA-256 that identifies the model: the GGUF file's own digest; for a folder, the digest of
    /// what `sha256sum` prints for `files()` (`<hex>  <name>` lines, names in byte order).
    public func sha256() throws -> String {
        switch self {
        case .gguf(let url):
            return try FileDigest.sha256(of: url)
        case .huggingFaceFolder:
            let listing = try files().map { "\(try FileDigest.sha256(of: $0))  \($0.lastPathComponent)\n" }.joined()
            return Data(listing.utf8).withUnsafeBytes { FileDigest.sha256(of: $0) }
        }
    }
}
