import Foundation

/// Reading input files into JSON, with errors that say file:line and why.
enum InputFile {
    /// The bytes of a regular file (a FIFO or a device would block or never end).
    static func bytes(of url: URL) throws(DatasetError) -> [UInt8] {
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            throw DatasetError(url.path, errno == ENOENT ? "no such file" : "cannot read: \(String(cString: strerror(errno)))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw DatasetError(url.path, "is a folder; this format reads one file (name it, or use --dataset-format)")
        default: throw DatasetError(url.path, "not a regular file")
        }
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw DatasetError(url.path, "cannot read: \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.readToEnd() ?? Data()
        } catch {
            throw DatasetError(url.path, "cannot read the file")
        }
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }  // UTF-8 byte order mark
        return bytes
    }

    /// UTF-8 text, or cp1252 re-encoded as UTF-8 where the bytes are not UTF-8 (some
    /// Multi-LogiEval files were saved from Windows editors).
    static func textBytesAllowingCP1252(of url: URL) throws(DatasetError) -> [UInt8] {
        let bytes = try bytes(of: url)
        if String(bytes: bytes, encoding: .utf8) != nil { return bytes }
        guard let text = String(bytes: bytes, encoding: .windowsCP1252) else {
            throw DatasetError(url.path, "the text is neither UTF-8 nor cp1252")
        }
        return Array(text.utf8)
    }

    /// One JSON document; syntax errors are reported as file:line:column.
    static func jsonDocument(_ bytes: [UInt8], path: String) throws(DatasetError) -> JSONValue {
        if bytes.allSatisfy(isWhitespace) { throw DatasetError(path, "the file is empty") }
        do {
            return try JSONValue.parse(bytes)
        } catch {
            let (line, column) = lineAndColumn(of: error.offset, in: bytes)
            throw DatasetError("\(path):\(line)", "malformed JSON at column \(column): \(error.reason)")
        }
    }

    /// JSON Lines: one object per non-blank line, with its 1-based line number.
    static func jsonLines(of url: URL) throws(DatasetError) -> [(line: Int, object: JSONObject)] {
        let bytes = try bytes(of: url)
        var records: [(line: Int, object: JSONObject)] = []
        var lineNumber = 0
        for var line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.allSatisfy(isWhitespace) { continue }
            let location = "\(url.path):\(lineNumber)"
            let value: JSONValue
            do {
                value = try JSONValue.parse(line)
            } catch {
                throw DatasetError(location, "malformed JSON at column \(error.offset + 1): \(error.reason)")
            }
            guard case .object(let object) = value else {
                throw DatasetError(location, "expected a JSON object, found \(value.kindName)")
            }
            records.append((lineNumber, object))
        }
        if records.isEmpty { throw DatasetError(url.path, "the file is empty") }
        return records
    }

    /// The JSON files under a folder, in a stable (sorted) order, or the file itself.
    static func files(at url: URL, withExtension fileExtension: String) throws(DatasetError) -> [URL] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw DatasetError(url.path, "no such file or folder")
        }
        guard isFolder.boolValue else { return [url] }
        guard let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil) else {
            throw DatasetError(url.path, "cannot list the folder")
        }
        let root = url.standardizedFileURL.path
        var found: [(relative: String, url: URL)] = []
        for case let file as URL in walker where file.pathExtension == fileExtension {
            let path = file.standardizedFileURL.path
            let relative = path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
            found.append((relative, file))
        }
        if found.isEmpty { throw DatasetError(url.path, "the folder holds no .\(fileExtension) files") }
        return found.sorted { $0.relative < $1.relative }.map(\.url)
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func lineAndColumn(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        let before = bytes.prefix(offset)
        let line = before.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        return (line, offset - lineStart + 1)
    }
}

/// Typed access to the fields of one JSON object, with errors that name the field and the place.
struct Fields {
    let object: JSONObject
    let location: String

    func required(_ key: String) throws(DatasetError) -> JSONValue {
        guard let value = object[key], value != .null else {
            throw DatasetError(location, "missing required field \"\(key)\"")
        }
        return value
    }

    func string(_ key: String) throws(DatasetError) -> String {
        let value = try required(key)
        guard let text = value.stringValue else { throw typeError(key, "a string", value) }
        return text
    }

    func optionalString(_ key: String) throws(DatasetError) -> String? {
        guard object[key] != nil, object[key] != .null else { return nil }
        return try string(key)
    }

    func integer(_ key: String) throws(DatasetError) -> Int {
        let value = try required(key)
        guard let number = value.intValue else { throw typeError(key, "an integer", value) }
        return number
    }

    func optionalInteger(_ key: String) throws(DatasetError) -> Int? {
        guard object[key] != nil, object[key] != .null else { return nil }
        return try integer(key)
    }

    /// A string, or an integer taken as its decimal text (public sets number their samples).
    func identifier(_ key: String) throws(DatasetError) -> String {
        let value = try required(key)
        switch value {
        case .string(let text): return text
        case .number where value.intValue != nil: return value.serialized
        default: throw typeError(key, "a string or an integer", value)
        }
    }

    func array(_ key: String) throws(DatasetError) -> [JSONValue] {
        let value = try required(key)
        guard case .array(let items) = value else { throw typeError(key, "an array", value) }
        return items
    }

    func stringArray(_ key: String) throws(DatasetError) -> [String] {
        let items = try array(key)
        var strings: [String] = []
        for item in items {
            guard let text = item.stringValue else {
                throw DatasetError(location, "field \"\(key)\" must hold strings only, found \(item.kindName)")
            }
            strings.append(text)
        }
        return strings
    }

    func object(_ key: String) throws(DatasetError) -> Fields {
        let value = try required(key)
        guard case .object(let inner) = value else { throw typeError(key, "an object", value) }
        return Fields(object: inner, location: location)
    }

    private func typeError(_ key: String, _ expected: String, _ found: JSONValue) -> DatasetError {
        DatasetError(location, "field \"\(key)\" must be \(expected), found \(found.kindName)")
    }
}
