// What a run file holds, as Swift values: the header (root attributes), the samples, the shape
// of the score arrays and the head accuracy tables.
import Foundation

/// Which query/key vectors the QK-score uses: as projected, or after rotary embedding.
public enum QKRope: String, Sendable, CaseIterable {
    case pre, post
}

/// The root attributes of a run file: what was probed, with what, and how.
public struct RunHeader: Sendable, Equatable {
    public var toolVersion: String
    /// ISO 8601, when the run was first created (a resume keeps the original).
    public var created: String
    public var modelName: String
    public var modelPath: String
    public var modelSHA256: String
    public var architecture: String
    public var nLayers: Int
    public var nHeads: Int
    public var nKVHeads: Int
    public var dHead: Int
    public var datasetName: String
    public var datasetSHA256: String
    public var template: String
    /// How the anchor was chosen: "before-cue", "question-end" or "marked" (files written before
    /// the attribute existed read as "question-end").
    public var anchorRule: String
    /// The text the anchor rules look for (older files: "Answer").
    public var answerCue: String
    /// The chat template family the prompts were wrapped in, "none" without one.
    public var chatTemplate: String
    /// Demonstrations per prompt (0: none), the file they came from (name, sha256) and the seed.
    public var shots: Int
    public var shotsDataset: String
    public var shotsSHA256: String
    public var shotsSeed: Int
    /// "options" (q at each option token, k at the anchor) or "mcqa" (q at the last token, k at
    /// each option's line, chosen by `mcqaKey`: "eol", "letter" or "period").
    public var geometry: String
    public var mcqaKey: String
    public var qkRope: QKRope
    /// 1 for the plain dot product, 1/sqrt(d_head) for attention's scaling.
    public var qkScale: Float
    /// Worker threads: sums split across threads can round differently, so a resume that must
    /// reproduce an uninterrupted run bit for bit has to use the same number.
    public var threads: Int
    /// How the model kept its weights ("stored" or "float32"); both give the same numbers bit for
    /// bit, so a resume need not match it. Files from before it was recorded read as "float32".
    public var weights: String
    /// The BOS token the tokenizer put first in every prompt (`add_bos_token`), nil when it adds
    /// none. A short prompt behaves differently with and without it. Files written before it was
    /// recorded read as nil.
    public var bosTokenID: Int?

    public init(toolVersion: String, created: String = RunHeader.now(), modelName: String, modelPath: String,
                modelSHA256: String, architecture: String, nLayers: Int, nHeads: Int, nKVHeads: Int,
                dHead: Int, datasetName: String, datasetSHA256: String, template: String,
                anchorRule: String = "before-cue", answerCue: String = "Answer:", chatTemplate: String = "none",
                shots: Int = 0, shotsDataset: String = "", shotsSHA256: String = "", shotsSeed: Int = 0,
                geometry: String = "options", mcqaKey: String = "",
                qkRope: QKRope, qkScale: Float, threads: Int, weights: String = "stored", bosTokenID: Int? = nil) {
        self.toolVersion = toolVersion
        self.created = created
        self.modelName = modelName
        self.modelPath = modelPath
        self.modelSHA256 = modelSHA256
        self.architecture = architecture
        self.nLayers = nLayers
        self.nHeads = nHeads
        self.nKVHeads = nKVHeads
        self.dHead = dHead
        self.datasetName = datasetName
        self.datasetSHA256 = datasetSHA256
        self.template = template
        self.anchorRule = anchorRule
        self.answerCue = answerCue
        self.chatTemplate = chatTemplate
        self.shots = shots
        self.shotsDataset = shotsDataset
        self.shotsSHA256 = shotsSHA256
        self.shotsSeed = shotsSeed
        self.geometry = geometry
        self.mcqaKey = mcqaKey
        self.qkRope = qkRope
        self.qkScale = qkScale
        self.threads = threads
        self.weights = weights
        self.bosTokenID = bosTokenID
    }

    /// The current time in ISO 8601 (UTC), for `created`.
    public static func now() -> String {
        ISO8601DateFormatter().string(from: Date())
    }

    /// The fields a resumed run must share with the file, named as in the file. The model and
    /// dataset are identified by content, not by path; `created` and the names are not compared.
    var resumeFingerprint: [(name: String, value: String)] {
        [("tool_version", toolVersion), ("model_sha256", modelSHA256), ("architecture", architecture),
         ("n_layers", "\(nLayers)"), ("n_heads", "\(nHeads)"), ("n_kv_heads", "\(nKVHeads)"),
         ("d_head", "\(dHead)"), ("dataset_sha256", datasetSHA256), ("template", template.debugDescription),
         ("anchor_rule", anchorRule), ("answer_cue", answerCue.debugDescription), ("chat_template", chatTemplate),
         ("shots", "\(shots)"), ("shots_sha256", shotsSHA256), ("shots_seed", "\(shotsSeed)"),
         ("geometry", geometry), ("mcqa_key", mcqaKey),
         ("qk_rope", qkRope.rawValue), ("qk_scale", "\(qkScale)"), ("threads", "\(threads)"),
         ("bos_token_id", bosTokenID.map(String.init) ?? "none")]
    }
}

/// One sample as it goes into the file: everything known before the model runs.
public struct SampleInfo: Sendable, Equatable {
    public var id: String
    /// Index of the right answer in the options, -1 when the dataset gives none.
    public var label: Int
    /// Reasoning steps, -1 when unknown.
    public var steps: Int
    /// Distractor facts, -1 when unknown.
    public var distractors: Int
    /// The prompt's token ids.
    public var tokenIDs: [Int32]
    /// Token position of the anchor (chosen by the header's anchor rule).
    public var anchor: Int
    /// This sample's answer options, as many as the run's; samples of one run may differ
    /// (" True"/" False" beside " yes"/" no"). Empty: the run's options.
    public var options: [String]
    /// The token each option is scored at; -1 where unknown (files written before they were stored).
    public var optionIDs: [Int32]
    /// The ids of the demonstrations put before this sample's prompt (runs with shots only).
    public var shotIDs: [String]
    /// MCQA runs: the token position of each option's key (`anchor` is the query's position).
    public var keyPositions: [Int32]

    public init(id: String, label: Int, steps: Int, distractors: Int, tokenIDs: [Int32], anchor: Int,
                options: [String] = [], optionIDs: [Int32] = [], shotIDs: [String] = [], keyPositions: [Int32] = []) {
        self.id = id
        self.label = label
        self.steps = steps
        self.distractors = distractors
        self.tokenIDs = tokenIDs
        self.anchor = anchor
        self.options = options
        self.optionIDs = optionIDs
        self.shotIDs = shotIDs
        self.keyPositions = keyPositions
    }
}

/// Everything a run is defined by before any row is computed; a resume must match it.
public struct RunSpec: Sendable, Equatable {
    public var header: RunHeader
    /// The answer options, e.g. [" True", " False"].
    public var options: [String]
    public var samples: [SampleInfo]
    /// Whether /activations/q and /activations/k are stored.
    public var saveActivations: Bool
    /// Set when this run is one shard of a larger one (`probe --shard I/N`); `samples` are then
    /// the shard's rows, in the order of `shard.rows`.
    public var shard: RunShard?

    /// Samples without options of their own get the run's, with unknown (-1) token ids.
    public init(header: RunHeader, options: [String], samples: [SampleInfo], saveActivations: Bool,
                shard: RunShard? = nil) {
        self.header = header
        self.options = options
        self.samples = samples.map { sample in
            var sample = sample
            if sample.options.isEmpty { sample.options = options }
            if sample.optionIDs.isEmpty { sample.optionIDs = Array(repeating: -1, count: sample.options.count) }
            return sample
        }
        self.saveActivations = saveActivations
        self.shard = shard
    }


    public var shape: RunShape {
        RunShape(samples: samples.count, options: options.count, layers: header.nLayers,
                 heads: header.nHeads, kvHeads: header.nKVHeads, headDim: header.dHead)
    }

    /// The distinct known step counts, ascending: the rows of the by-steps tables.
    public var stepsValues: [Int] { Self.knownValues(samples.map(\.steps)) }
    /// The distinct known distractor counts, ascending: the rows of the by-distractors tables.
    public var distractorsValues: [Int] { Self.knownValues(samples.map(\.distractors)) }

    static func knownValues(_ values: [Int]) -> [Int] {
        Set(values.filter { $0 >= 0 }).sorted()
    }
}

/// Sizes of the arrays in a run file. Flat arrays are row-major in the order the names give.
public struct RunShape: Sendable, Equatable {
    public var samples: Int
    public var options: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int

    /// Scores per sample: [option, layer, head].
    public var scoresPerSample: Int { options * layers * heads }
    /// Query values per sample: [option, layer, head, d_head].
    public var queriesPerSample: Int { scoresPerSample * headDim }
    /// Key values per sample: [layer, kv_head, d_head].
    public var keysPerSample: Int { layers * kvHeads * headDim }
    /// Index of one score in a sample's flat [option, layer, head] block.
    public func scoreIndex(option: Int, layer: Int, head: Int) -> Int {
        (option * layers + layer) * heads + head
    }
}

/// Head accuracy and the model's own accuracy, overall and broken down by steps and by
/// distractors. S and D are the counts of `RunSpec.stepsValues` / `distractorsValues`.
/// NaN marks a cell with no labelled sample.
public struct HeadTables: Sendable {
    /// [layer, head]
    public var accuracy: [Float]
    /// [S, layer, head]
    public var accuracyBySteps: [Float]
    /// [D, layer, head]
    public var accuracyByDistractors: [Float]
    public var baselineAccuracy: Float
    /// [S]
    public var baselineAccuracyBySteps: [Float]
    /// [D]
    public var baselineAccuracyByDistractors: [Float]

    public init(accuracy: [Float], accuracyBySteps: [Float], accuracyByDistractors: [Float],
                baselineAccuracy: Float, baselineAccuracyBySteps: [Float], baselineAccuracyByDistractors: [Float]) {
        self.accuracy = accuracy
        self.accuracyBySteps = accuracyBySteps
        self.accuracyByDistractors = accuracyByDistractors
        self.baselineAccuracy = baselineAccuracy
        self.baselineAccuracyBySteps = baselineAccuracyBySteps
        self.baselineAccuracyByDistractors = baselineAccuracyByDistractors
    }
}
