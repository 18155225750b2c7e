import ArgumentParser
import Foundation
import Selection

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a run against expected head accuracies or claims; exit non-zero with a diff where it falls short.",
        discussion: """
        EXPECTED.json is either a whole head table as `qkprobe heads --format json` writes it \
        (every head, the baseline and every steps/distractors group are compared), or an object \
        with any of these keys:
          "model_sha256": "…"           the run must come from this model
          "baseline": 0.62              the model's own accuracy
          "heads": {"L14H3": 0.81}      accuracies of named heads
          "claims": [                   statements that must hold:
            {"best_head_beats_baseline_by": 0.10},
            {"best_head_at_least": 0.8},
            {"head": "L14H3", "beats_baseline_by": 0.05},
            {"head": "L14H3", "at_least": 0.7},
            {"head": "L2H1", "at_most": 0.55},
            {"head": "L14H3", "in_top": 5},
            {"head": "L14H3", "beats_model": {"p_below": 0.05}},     McNemar's exact test
            {"head": "L14H3", "beats_chance": {"p_below": 0.05}},    max-T adjusted p
            {"best_head_beats_chance": {"p_below": 0.05}}]          family-wise p of the best head
        A claim may add "steps": N or "distractors": N to hold on that group of samples only. \
        Accuracies are fractions; every comparison allows the tolerance. Unknown keys are errors, \
        so a typo cannot pass silently. Significance claims use 1000 label permutations with seed 0, \
        as `qkprobe heads` does by default. The run must be finished.

        On success prints one summary line and exits 0; otherwise prints one line per failing \
        check (what, expected, actual, tolerance) and exits 1.
        """)

    @Argument(help: ArgumentHelp("The run file.", valueName: "RUN.h5"))
    var runFile: String

    @Option(help: ArgumentHelp("The expectations.", valueName: "EXPECTED.json"))
    var expected: String

    @Option(parsing: .unconditional, help: "How far an accuracy may differ from the expected one (a fraction).")
    var tolerance = 0.02

    func validate() throws {
        guard tolerance.isFinite, tolerance >= 0 else {
            throw ValidationError("--tolerance must be a number of at least 0, not \(tolerance)")
        }
    }

    func run() throws {
        let expectation = try Expectation(contentsOf: URL(fileURLWithPath: expected), name: expected)
        let run = try ProbeRun(contentsOf: URL(fileURLWithPath: runFile), name: runFile)
        let verification = try run.check(expectation, tolerance: tolerance)
        guard verification.passed else {
            print(verification.diff)
            throw ChecksFailed(description: verification.summary)
        }
        print(verification.summary)
    }

    private struct ChecksFailed: Error, CustomStringConvertible {
        let description: String
    }
}
