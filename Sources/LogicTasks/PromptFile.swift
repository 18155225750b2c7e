import Foundation

/// The project's own dataset format: JSON Lines, one sample per line.
///
///     {"id":"...","prompt":"...","options":[" True"," False"],"label":0,"steps":3,"distractors":2,
///      "context":"...","question":"...", ...anything else...}
///
/// `id`, `prompt` and `options` are required; `label` (an index into `options`), `steps`,
/// `distractors`, `context` and `question` are optional; other fields are kept as metadata and
/// otherwise ignored. All lines have the same number of options (their texts may differ). The prompt is used as it is.
public enum PromptFile {
    static let knownFields: Set<String> = ["id", "prompt", "options", "label", "steps", "distractors", "context", "question"]

    public static func read(_ url: URL) throws(DatasetError) -> LogicDataset {
        var samples: [LogicSample] = []
        var firstLine: [String: Int] = [:]
        for (line, object) in try InputFile.jsonLines(of: url) {
            let location = "\(url.path):\(line)"
            let fields = Fields(object: object, location: location)
            let sample = LogicSample(
                id: try fields.identifier("id"),
                context: try fields.optionalString("context"),
                question: try fields.optionalString("question"),
                prompt: try fields.string("prompt"),
                options: try fields.stringArray("options"),
                label: try fields.optionalInteger("label"),
                steps: try count("steps", fields),
                distractors: try count("distractors", fields),
                metadata: JSONObject(object.members.filter { !knownFields.contains($0.key) }))
            if let first = samples.first, sample.options.count != first.options.count {
                throw DatasetError(
                    location,
                    "\(sample.options.count) options \(quoted(sample.options)), but \(first.options.count) on line \(firstLine[first.id] ?? 1); the samples of one run need the same number of options")
            }
            if let label = sample.label, !sample.options.indices.contains(label) {
                throw DatasetError(location, "label \(label) is not an index into the \(sample.options.count) options")
            }
            if let earlier = firstLine[sample.id] {
                throw DatasetError(location, "duplicate id \(sample.id) (first on line \(earlier))")
            }
            do {
                _ = try sample.promptText()
            } catch {
                throw DatasetError(location, "sample \(sample.id): \(error.reason)")
            }
            firstLine[sample.id] = line
            samples.append(sample)
        }
        return try LogicDataset(name: datasetName(for: url), samples: samples, source: url.path)
    }

    private static func count(_ key: String, _ fields: Fields) throws(DatasetError) -> Int? {
        guard let value = try fields.optionalInteger(key) else { return nil }
        guard value >= 0 else { throw DatasetError(fields.location, "field \"\(key)\" must not be negative, found \(value)") }
        return value
    }

    /// The samples as JSON Lines text. A sample without a prompt gets the default template's.
    public static func encode(_ samples: [LogicSample]) throws(DatasetError) -> String {
        var text = ""
        for sample in samples {
            var object = JSONObject()
            object.set("id", .string(sample.id))
            object.set("prompt", .string(try sample.promptText()))
            object.set("options", .array(sample.options.map(JSONValue.string)))
            if let label = sample.label { object.set("label", .integer(label)) }
            if let steps = sample.steps { object.set("steps", .integer(steps)) }
            if let distractors = sample.distractors { object.set("distractors", .integer(distractors)) }
            if let context = sample.context { object.set("context", .string(context)) }
            if let question = sample.question { object.set("question", .string(question)) }
            for member in sample.metadata.members where !knownFields.contains(member.key) {
                object.set(member.key, member.value)
            }
            text += JSONValue.object(object).serialized + "\n"
        }
        return text
    }

    /// Writes the samples; an existing file is replaced only when `overwrite` is set.
    public static func write(_ samples: [LogicSample], to url: URL, overwrite: Bool) throws(DatasetError) {
        if !overwrite && FileManager.default.fileExists(atPath: url.path) {
            throw DatasetError(url.path, "the file exists; pass --force to overwrite it")
        }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
            throw DatasetError(url.path, "is a folder; give a file name")
        }
        let data = Data(try encode(samples).utf8)
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            // The system's reason, not Foundation's wording of it.
            let code = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code
            throw DatasetError(url.path, "cannot write the file" + (code.map { ": \(String(cString: strerror(Int32($0))))" } ?? ""))
        }
    }
}
