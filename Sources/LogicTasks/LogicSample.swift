import Foundation

/// One logic problem, whatever file it came from.
///
/// A sample is either structured (`context` and `question`, rendered by a `PromptTemplate`) or a
/// plain `prompt` used as it is; generated and converted files carry both, so they can be
/// re-rendered with another template.
public struct LogicSample: Sendable, Equatable {
    public var id: String
    public var context: String?
    public var question: String?
    /// A ready prompt, used as is; its anchor is found before its final "Answer".
    public var prompt: String?
    /// The answer options as the model will see them, leading space included (" True").
    public var options: [String]
    /// Index into `options` of the right answer; nil where the source has none.
    public var label: Int?
    /// Reasoning depth (hops of modus ponens); nil where unknown.
    public var steps: Int?
    /// Number of distractor sentences in the context; nil where unknown.
    public var distractors: Int?
    /// What else the source says about the sample (proof, seed, generator, QCat, ...), in a stable order.
    public var metadata: JSONObject

    public init(
        id: String, context: String? = nil, question: String? = nil, prompt: String? = nil,
        options: [String], label: Int? = nil, steps: Int? = nil, distractors: Int? = nil,
        metadata: JSONObject = JSONObject()
    ) {
        self.id = id
        self.context = context
        self.question = question
        self.prompt = prompt
        self.options = options
        self.label = label
        self.steps = steps
        self.distractors = distractors
        self.metadata = metadata
    }
}

/// The answer options of the supported task families.
public enum AnswerOptions {
    public static let trueFalse = [" True", " False"]
    public static let yesNo = [" yes", " no"]
}

/// A set of samples with the same number of answer options.
///
/// The options may differ between samples (" True"/" False" beside " yes"/" no"): a run stores
/// them per sample, and a head's choice is an index into its sample's own options. Their count
/// is the same everywhere because the scores are an [N, O, L, H] array.
public struct LogicDataset: Sendable {
    /// A stable name: the file or folder name without extension.
    public let name: String
    /// The options shared by every sample; where samples differ, each position's distinct texts
    /// in order of first appearance, joined by "|" ([" True| yes", " False| no"]).
    public let options: [String]
    public let samples: [LogicSample]

    /// Checks what every consumer relies on: at least one sample, the same number of options
    /// everywhere, at least two distinct options per sample, labels in range, unique ids.
    public init(name: String, samples: [LogicSample], source: String) throws(DatasetError) {
        guard let first = samples.first else { throw DatasetError(source, "no samples") }
        var seen = Set<String>()
        for sample in samples {
            guard sample.options.count >= 2 else {
                throw DatasetError(source, "sample \(sample.id) has \(sample.options.count) option(s); at least two are needed")
            }
            guard Set(sample.options).count == sample.options.count else {
                throw DatasetError(source, "sample \(sample.id) repeats an option: \(quoted(sample.options))")
            }
            guard sample.options.count == first.options.count else {
                throw DatasetError(
                    source,
                    "sample \(sample.id) has \(sample.options.count) options \(quoted(sample.options)) but sample \(first.id) has \(first.options.count); the samples of one run need the same number of options")
            }
            if let label = sample.label, !sample.options.indices.contains(label) {
                throw DatasetError(source, "sample \(sample.id) has label \(label) outside 0..<\(sample.options.count)")
            }
            guard seen.insert(sample.id).inserted else {
                throw DatasetError(source, "duplicate sample id \(sample.id)")
            }
        }
        self.name = name
        self.options = LogicDataset.sharedOptions(samples.map(\.options))
        self.samples = samples
    }

    /// Whether the samples' options differ.
    public var hasMixedOptions: Bool { samples.contains { $0.options != samples[0].options } }

    /// The run-level option names of samples with these options (see `options`).
    public static func sharedOptions(_ perSample: [[String]]) -> [String] {
        guard let count = perSample.first?.count else { return [] }
        return (0..<count).map { position in
            var texts: [String] = []
            for options in perSample where !texts.contains(options[position]) { texts.append(options[position]) }
            return texts.joined(separator: "|")
        }
    }
}

/// A problem with input data: where it is (file, or file:line) and what is wrong, on one line.
public struct DatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    public let location: String
    public let reason: String

    public init(_ location: String, _ reason: String) {
        self.location = location
        self.reason = reason
    }

    public var description: String { "\(location): \(reason)" }
}

extension DatasetError: LocalizedError {
    public var errorDescription: String? { description }
}

/// Text printed the way it is written in JSON, so that leading spaces show.
func quoted(_ text: String) -> String {
    JSONValue.string(text).serialized
}

func quoted(_ options: [String]) -> String {
    JSONValue.array(options.map(JSONValue.string)).serialized
}

/// The name a dataset gets from its file or folder.
func datasetName(for url: URL) -> String {
    url.deletingPathExtension().lastPathComponent
}
