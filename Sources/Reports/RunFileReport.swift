import Probe
import RunStore

extension ScoredSamples {
    /// The scores of a run file, complete rows and all.
    public init(run: RunReader) {
        self.init(options: run.shape.options, layers: run.shape.layers, heads: run.shape.heads,
                  qk: run.qk, modelLogits: run.modelLogits,
                  labels: run.samples.map(\.label), steps: run.samples.map(\.steps),
                  distractors: run.samples.map(\.distractors), complete: run.complete, groups: run.samples.map(\.group))
    }
}

extension HeadReport {
    /// The report of a run file. Tables are recomputed from /scores, so a run that is still
    /// going (or was killed) reports on the rows it has finished.
    /// The permutation test uses `permutations` label shuffles seeded with `seed`.
    public init(run: RunReader, permutations: Int = HeadStatistics.defaultPermutations, seed: UInt64 = 0) {
        let header = run.header
        self.init(modelName: header.modelName, modelSHA256: header.modelSHA256, datasetName: header.datasetName,
                  options: run.options, rotary: header.qkRope.rawValue,
                  scale: header.qkScale == 1 ? "none" : "1/sqrt(d_head)",
                  anchorRule: header.anchorRule, answerCue: header.answerCue,
                  promptNotes: (header.chatTemplate == "none" ? [] : ["chat \(header.chatTemplate)"])
                      + (header.shots == 0 ? [] : ["\(header.shots) shots from \(header.shotsDataset), seed \(header.shotsSeed)"])
                      + (header.geometry == "options" ? [] : ["\(header.geometry) keys at \(header.mcqaKey)"]),
                  samples: ScoredSamples(run: run), permutations: permutations, seed: seed)
    }
}
