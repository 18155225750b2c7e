import Foundation

/// Multiple-choice questions, one JSON object per line:
/// `{"id": ..., "question": "...", "choices": ["...", ...], "answer": 0}` (`id` optional: the
/// line number; `answer` optional: an index into `choices`). A sample's prompt is
/// "{question}\nA. {choice}\nB. {choice}\n...\nAnswer:" and its options are the letters
/// " A", " B", ...: the model's own answer is the letter with the highest logit.
public enum MultipleChoice {
    public static let letters = (65...90).map { String(UnicodeScalar(UInt8($0))) }

    public static func prompt(question: String, choices: [String]) -> String {
        var text = question
        for (index, choice) in choices.enumerated() { text += "\n\(letters[index]). \(choice)" }
        return text + "\nAnswer:"
    }

    public static func sample(id: String, question: String, choices: [String], answer: Int?,
                              metadata: JSONObject = JSONObject()) -> LogicSample {
        var metadata = metadata
        metadata.set("choices", .array(choices.map(JSONValue.string)))
        return LogicSample(id: id, question: question, prompt: prompt(question: question, choices: choices),
                           options: choices.indices.map { " " + letters[$0] }, label: answer, metadata: metadata)
    }

    static func load(_ url: URL) throws(DatasetError) -> LogicDataset {
        var samples: [LogicSample] = []
        for (line, object) in try InputFile.jsonLines(of: url) {
            let location = "\(url.path):\(line)"
            let fields = Fields(object: object, location: location)
            let question = try fields.string("question")
            guard case .array(let values) = try fields.required("choices") else {
                throw DatasetError(location, "field \"choices\" must be a list of strings")
            }
            var choices: [String] = []
            for value in values {
                guard let text = value.stringValue else { throw DatasetError(location, "field \"choices\" must be a list of strings") }
                guard !text.contains("\n") else { throw DatasetError(location, "a choice spans several lines; each must be one line") }
                choices.append(text)
            }
            guard (2...letters.count).contains(choices.count) else {
                throw DatasetError(location, "\(choices.count) choices; 2 to \(letters.count) are supported")
            }
            let answer = try fields.optionalInteger("answer")
            if let answer, !choices.indices.contains(answer) {
                throw DatasetError(location, "answer \(answer) is not an index into the \(choices.count) choices")
            }
            let id = object["id"] == nil ? "\(line)" : try fields.identifier("id")
            var sample = sample(id: id, question: question, choices: choices, answer: answer)
            if let steps = try fields.optionalInteger("steps") {
                guard steps >= 0 else { throw DatasetError(location, "field \"steps\" must not be negative, found \(steps)") }
                sample.steps = steps
            }
            samples.append(sample)
        }
        return try LogicDataset(name: datasetName(for: url), samples: samples, source: url.path)
    }

    /// The UTF-8 offset of each option's key byte in `text`, a prompt as `prompt` writes it
    /// (possibly inside demonstrations or a chat template): the letter, the period after it, or
    /// the newline that ends its line. The option lines are found backwards from the final `cue`,
    /// so a question that itself holds "\nA. " does not confuse them.
    public static func keyOffsets(in text: String, options: Int, cue: String, key: MCQAKey) -> [Int]? {
        guard options <= letters.count, let cueRange = text.range(of: cue, options: .backwards) else { return nil }
        let bytes = Array(text.utf8)
        let cueStart = text[..<cueRange.lowerBound].utf8.count
        // The newline before the cue ends the last option's line.
        guard let lastEnd = bytes[..<cueStart].lastIndex(of: UInt8(ascii: "\n")) else { return nil }
        var lineStarts = [Int](repeating: 0, count: options)  // offset of the "\n" before "A."
        var limit = lastEnd
        for option in stride(from: options - 1, through: 0, by: -1) {
            let pattern = Array("\n\(letters[option]).".utf8)
            guard let found = lastOccurrence(of: pattern, in: bytes, before: limit) else { return nil }
            lineStarts[option] = found
            limit = found
        }
        return (0..<options).map { option in
            switch key {
            case .letter: lineStarts[option] + 1
            case .period: lineStarts[option] + 2
            case .eol: option + 1 < options ? lineStarts[option + 1] : lastEnd
            }
        }
    }

    private static func lastOccurrence(of pattern: [UInt8], in bytes: [UInt8], before limit: Int) -> Int? {
        var start = limit - pattern.count
        while start >= 0 {
            if Array(bytes[start..<(start + pattern.count)]) == pattern { return start }
            start -= 1
        }
        return nil
    }

    // MARK: a synthetic task

    /// A synthetic multiple-choice task: a few taxonomies of invented nouns ("Every wug is a dax.
    /// Every dax is a fep."), one entity in one of them ("Max is a wug."), the facts shuffled,
    /// and the question "Which of these is Max?" with the top of each taxonomy as a choice. The
    /// right one takes `steps` hops; the others are as far up taxonomies Max is not in, so every
    /// choice appears in the context equally often. Depths cycle through `steps` and the right
    /// letter through the positions, so both are balanced; the same seed gives the same samples.
    public static func generate(count: Int, steps: ClosedRange<Int>, choices: Int, seed: UInt64) throws(DatasetError) -> [LogicSample] {
        guard count >= 1 else { throw DatasetError("mcqa generator", "count must be at least 1") }
        guard (2...6).contains(choices) else { throw DatasetError("mcqa generator", "choices must be 2 to 6") }
        guard steps.lowerBound >= 1, steps.upperBound <= 8, choices * (steps.upperBound + 1) <= Vocabulary.concepts.count else {
            throw DatasetError("mcqa generator", "steps must lie within 1-8 (and the taxonomies within the vocabulary)")
        }
        return (0..<count).map { index in
            var random = SeededRandom(key: [seed, 0x4D43_5141, UInt64(index)])  // "MCQA"
            var words = WordPool()
            let depth = steps.lowerBound + index % steps.count
            let answer = (index / steps.count) % choices
            let name = words.name(&random)
            let taxonomies = (0..<choices).map { _ in (0...depth).map { _ in words.concept(&random) } }
            var facts = taxonomies.flatMap { chain in
                (0..<depth).map { "Every \(chain[$0]) is \(Vocabulary.withArticle(chain[$0 + 1]))." }
            }
            facts.append("\(name) is \(Vocabulary.withArticle(taxonomies[0][0])).")
            random.shuffle(&facts)
            var wrong = taxonomies.dropFirst().map { Vocabulary.withArticle($0[depth]) }
            random.shuffle(&wrong)
            var choiceTexts = wrong
            choiceTexts.insert(Vocabulary.withArticle(taxonomies[0][depth]), at: answer)
            var metadata = JSONObject()
            metadata.set("generator", .string("qkprobe mcqa taxonomy"))
            metadata.set("seed", .number(String(seed)))
            var sample = sample(id: "mcqa-\(seed)-\(index)", question: facts.joined(separator: " ") + "\nQuestion: Which of these is \(name)?",
                                choices: choiceTexts, answer: answer, metadata: metadata)
            sample.steps = depth
            return sample
        }
    }

    /// Samples as multiple-choice JSON Lines (the format `load` reads).
    public static func encode(_ samples: [LogicSample]) throws(DatasetError) -> String {
        var text = ""
        for sample in samples {
            guard let question = sample.question, case .array(let choices)? = sample.metadata["choices"] else {
                throw DatasetError("sample \(sample.id)", "not a multiple-choice sample")
            }
            var object = JSONObject()
            object.set("id", .string(sample.id))
            object.set("question", .string(question))
            object.set("choices", .array(choices))
            if let label = sample.label { object.set("answer", .integer(label)) }
            if let steps = sample.steps { object.set("steps", .integer(steps)) }
            text += JSONValue.object(object).serialized + "\n"
        }
        return text
    }
}

/// Which token of an option's line the MCQA geometry reads the key at (Tulchinskii et al. 2024,
/// "Listening to the Wise Few", arXiv 2410.02343).
public enum MCQAKey: String, Sendable, CaseIterable {
    /// The token ending the line "A. ...": the one holding its newline (best zero-shot there).
    case eol
    /// The token holding the letter "A".
    case letter
    /// The token holding the period after the letter.
    case period
}
