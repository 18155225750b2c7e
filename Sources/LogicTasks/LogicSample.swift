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

/// A set of samples that share one list of answer options.
///
/// One list per dataset because a run scores every sample against the same options (the run
/// file stores `/options` once); a file whose samples disagree is refused and must be split.
public struct LogicDataset: Sendable {
    /// A stable name: the file or folder name without extension.
    public let name: String
    public let options: [String]
    public let samples: [LogicSample]

    /// Checks what every consumer relies on: at least one sample, the same options everywhere,
    /// at least two distinct options, labels in range, unique ids.
    public init(name: String, samples: [LogicSample], source: String) throws(DatasetError) {
        guard let first = samples.first else { throw DatasetError(source, "no samples") }
        guard first.options.count >= 2 else {
            throw DatasetError(source, "sample \(first.id) has \(first.options.count) option(s); at least two are needed")
        }
        guard Set(first.options).count == first.options.count else {
            throw DatasetError(source, "sample \(first.id) repeats an option: \(quoted(first.options))")
        }
        var seen = Set<String>()
        for sample in samples {
            guard sample.options == first.options else {
                throw DatasetError(
                    source,
                    "sample \(sample.id) has options \(quoted(sample.options)) but sample \(first.id) has \(quoted(first.options)); a dataset has one option list")
            }
            if let label = sample.label, !first.options.indices.contains(label) {
                throw DatasetError(source, "sample \(sample.id) has label \(label) outside 0..<\(first.options.count)")
            }
            guard seen.insert(sample.id).inserted else {
                throw DatasetError(source, "duplicate sample id \(sample.id)")
            }
        }
        self.name = name
        self.options = first.options
        self.samples = samples
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
