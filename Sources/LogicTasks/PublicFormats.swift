import Foundation

/// The formats a dataset can be read from. A path may be a file or a folder; a folder is read
/// whole (its files of the format's extension, in sorted order, subfolders included).
public enum DatasetFormat: String, Sendable, CaseIterable {
    /// Our prompt JSON Lines (`PromptFile`).
    case prompts
    /// PARARULE-Plus JSON Lines: a context with several true/false questions per line.
    case pararule
    /// Multi-LogiEval JSON files (`data/` or any part of it): yes/no questions.
    case multilogieval
    /// ProntoQA, either the Logic-LLM list or the original generator's dict of examples.
    case prontoqa
    /// Multiple-choice JSON Lines (`MultipleChoice`): question, choices, answer index.
    case multiplechoice

    public func load(_ url: URL) throws(DatasetError) -> LogicDataset {
        switch self {
        case .prompts: return try PromptFile.read(url)
        case .pararule: return try ParaRulePlus.load(url)
        case .multilogieval: return try MultiLogiEval.load(url)
        case .prontoqa: return try ProntoQA.load(url)
        case .multiplechoice: return try MultipleChoice.load(url)
        }
    }
}

/// PARARULE-Plus (Bao et al., 2022):
/// `{"id", "context", "questions": [{"id", "text", "label": "true"|"false", "meta": {"QDep", "QCat"}}]}`.
/// Each question becomes a sample "True or false: <text>"; `steps` is `QDep`.
enum ParaRulePlus {
    static func load(_ url: URL) throws(DatasetError) -> LogicDataset {
        var samples: [LogicSample] = []
        for file in try InputFile.files(at: url, withExtension: "jsonl") {
            for (line, object) in try InputFile.jsonLines(of: file) {
                let record = Fields(object: object, location: "\(file.path):\(line)")
                let contextID = try record.identifier("id")
                let context = try record.string("context")
                for (index, item) in try record.array("questions").enumerated() {
                    let location = "\(file.path):\(line): question \(index + 1)"
                    guard case .object(let questionObject) = item else {
                        throw DatasetError(location, "expected an object, found \(item.kindName)")
                    }
                    let question = Fields(object: questionObject, location: location)
                    var metadata = JSONObject()
                    metadata.set("source", .string("PARARULE-Plus"))
                    metadata.set("context_id", .string(contextID))
                    var steps: Int?
                    if questionObject["meta"] != nil {
                        let meta = try question.object("meta")
                        steps = try depth(meta, key: "QDep")
                        if let category = meta.object["QCat"] { metadata.set("QCat", category) }
                    }
                    samples.append(
                        LogicSample(
                            id: try question.identifier("id"), context: context,
                            question: "True or false: " + (try question.string("text")),
                            options: AnswerOptions.trueFalse,
                            label: try trueFalseLabel(question.string("label"), question.location),
                            steps: steps, metadata: metadata))
                }
            }
        }
        return try LogicDataset(name: datasetName(for: url), samples: samples, source: url.path)
    }

    /// QDep is written as a string ("3") in the released files; a number is accepted too.
    private static func depth(_ meta: Fields, key: String) throws(DatasetError) -> Int? {
        switch meta.object[key] {
        case nil, .null: return nil
        case .string(let text):
            guard let value = Int(text), value >= 0 else {
                throw DatasetError(meta.location, "\(key) \(quoted(text)) is not a depth")
            }
            return value
        case let value?:
            guard let number = value.intValue, number >= 0 else {
                throw DatasetError(meta.location, "\(key) must be a depth, found \(value.kindName)")
            }
            return number
        }
    }
}

/// Multi-LogiEval (Patel et al., 2024): `{"logic", "rule", "depth": "d3"|"-", "samples": [{"id",
/// "context", "question", "answer": "yes"|"no"}]}` per file. Quirks survived: files in cp1252,
/// `"logic": "mm"` (read as "nm", the folder it sits in), answers in any case, depth "-" (unknown).
enum MultiLogiEval {
    static func load(_ url: URL) throws(DatasetError) -> LogicDataset {
        var samples: [LogicSample] = []
        for file in try InputFile.files(at: url, withExtension: "json") {
            let document = try InputFile.jsonDocument(InputFile.textBytesAllowingCP1252(of: file), path: file.path)
            guard case .object(let object) = document else {
                throw DatasetError(file.path, "expected a JSON object, found \(document.kindName)")
            }
            let header = Fields(object: object, location: file.path)
            let logic = try header.string("logic")
            let normalizedLogic = logic == "mm" ? "nm" : logic
            let rule = try header.identifier("rule")
            let depthText = try header.string("depth")
            let steps = try depth(depthText, file.path)
            for (index, item) in try header.array("samples").enumerated() {
                let location = "\(file.path): sample \(index + 1)"
                guard case .object(let sampleObject) = item else {
                    throw DatasetError(location, "expected an object, found \(item.kindName)")
                }
                let fields = Fields(object: sampleObject, location: location)
                var metadata = JSONObject()
                metadata.set("source", .string("Multi-LogiEval"))
                metadata.set("logic", .string(normalizedLogic))
                metadata.set("rule", .string(rule))
                metadata.set("depth", .string(depthText))
                samples.append(
                    LogicSample(
                        id: "\(normalizedLogic)/\(depthText)/\(rule)/\(try fields.identifier("id"))",
                        context: try fields.string("context"), question: try fields.string("question"),
                        options: AnswerOptions.yesNo,
                        label: try yesNoLabel(fields.string("answer"), location),
                        steps: steps, metadata: metadata))
            }
        }
        return try LogicDataset(name: datasetName(for: url), samples: samples, source: url.path)
    }

    private static func depth(_ text: String, _ location: String) throws(DatasetError) -> Int? {
        if text == "-" { return nil }
        guard text.hasPrefix("d"), let value = Int(text.dropFirst()), value >= 0 else {
            throw DatasetError(location, "depth \(quoted(text)) is neither \"d<number>\" nor \"-\"")
        }
        return value
    }

    private static func yesNoLabel(_ answer: String, _ location: String) throws(DatasetError) -> Int {
        switch answer.trimmingCharacters(in: .whitespaces).lowercased() {
        case "yes": return 0
        case "no": return 1
        default: throw DatasetError(location, "answer \(quoted(answer)) is neither yes nor no")
        }
    }
}

/// ProntoQA (Saparov and He, 2023), in two layouts:
/// - Logic-LLM's list: `[{"id", "context", "question", "options": ["A) True", "B) False"], "answer": "A", "explanation": [...]}]`;
/// - the original generator's dict: `{"example1": {"in_context_example0": {...}, ..., "test_example":
///   {"question" (the context), "query" ("True or false: ..."), "chain_of_thought": [...], "answer": "True"}}}`.
///   Only the test example of each entry is read (we score zero-shot); entries keep file order.
/// `steps` counts the proof's sentences that are not in the context (each hop concludes one);
/// `distractors` counts the context's sentences that the proof does not use.
enum ProntoQA {
    static func load(_ url: URL) throws(DatasetError) -> LogicDataset {
        var samples: [LogicSample] = []
        for file in try InputFile.files(at: url, withExtension: "json") {
            switch try InputFile.jsonDocument(InputFile.bytes(of: file), path: file.path) {
            case .array(let records):
                for (index, record) in records.enumerated() {
                    samples.append(try listRecord(record, location: "\(file.path): record \(index + 1)"))
                }
            case .object(let entries):
                for (key, entry) in entries.members {
                    samples.append(try dictEntry(key: key, entry, location: "\(file.path): \(key)"))
                }
            case let other:
                throw DatasetError(file.path, "expected a list or a dict of examples, found \(other.kindName)")
            }
        }
        return try LogicDataset(name: datasetName(for: url), samples: samples, source: url.path)
    }

    private static func listRecord(_ record: JSONValue, location: String) throws(DatasetError) -> LogicSample {
        guard case .object(let object) = record else { throw DatasetError(location, "expected an object, found \(record.kindName)") }
        let fields = Fields(object: object, location: location)
        let answer = try fields.string("answer")
        // "A) True": the answer names an option by its letter; the option's text says True or False.
        var label: Int?
        for option in try fields.stringArray("options") {
            guard let close = option.firstIndex(of: ")") else {
                throw DatasetError(location, "option \(quoted(option)) is not \"<letter>) <text>\"")
            }
            if option[..<close] == answer {
                label = try trueFalseLabel(option[option.index(after: close)...].trimmingCharacters(in: .whitespaces), location)
            }
        }
        guard let label else { throw DatasetError(location, "answer \(quoted(answer)) names none of the options") }
        let context = try fields.string("context")
        let explanation = object["explanation"] == nil ? nil : try fields.stringArray("explanation")
        return sample(
            id: try fields.identifier("id"), context: context, question: try fields.string("question"), label: label,
            proof: explanation)
    }

    private static func dictEntry(key: String, _ entry: JSONValue, location: String) throws(DatasetError) -> LogicSample {
        guard case .object(let object) = entry else { throw DatasetError(location, "expected an object, found \(entry.kindName)") }
        let test = try Fields(object: object, location: location).object("test_example")
        let label = try test.optionalString("answer").map { answer throws(DatasetError) in try trueFalseLabel(answer, location) }
        let proof = test.object["chain_of_thought"] == nil ? nil : try test.stringArray("chain_of_thought")
        return sample(id: key, context: try test.string("question"), question: try test.string("query"), label: label, proof: proof)
    }

    private static func sample(id: String, context: String, question: String, label: Int?, proof: [String]?) -> LogicSample {
        var metadata = JSONObject()
        metadata.set("source", .string("ProntoQA"))
        var steps: Int?
        var distractors: Int?
        if let proof {
            let used = proof.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            let contextSentences = sentences(of: context)
            steps = used.filter { !contextSentences.contains($0) }.count
            distractors = contextSentences.filter { !used.contains($0) }.count
            metadata.set("proof", .array(used.map(JSONValue.string)))
        }
        return LogicSample(
            id: id, context: context, question: question, options: AnswerOptions.trueFalse, label: label,
            steps: steps, distractors: distractors, metadata: metadata)
    }
}

func trueFalseLabel(_ answer: String, _ location: String) throws(DatasetError) -> Int {
    switch answer.lowercased() {
    case "true": return 0
    case "false": return 1
    default: throw DatasetError(location, "answer \(quoted(answer)) is neither true nor false")
    }
}
