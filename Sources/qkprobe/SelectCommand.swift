import ArgumentParser
import Foundation
import Reports
import Selection

struct SelectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select",
        abstract: "Pick the best heads on calibration runs and test them on other runs: single heads, "
            + "top-k ensembles, a transfer table, accuracy by steps and by distractors.",
        discussion: """
        Heads are ranked by accuracy on each calibration run (equal accuracies keep layer-then-head \
        order). The top k are reported on every run beside the model's own accuracy, and so are two \
        ensembles of them:
          majority vote: each head votes for its highest-scoring option; on a tie in votes, the \
        best-ranked head voting for one of the tied options decides.
          z-sum: each head's scores are standardised with the mean and standard deviation of all \
        its scores on the calibration run (every option of every labelled row; test runs never feed \
        them); the option with the largest sum over the heads wins (the first option on a tie).
        All runs must come from the same model (model_sha256), with the same heads and q/k \
        convention. Only finished, labelled rows count, as in `qkprobe heads`.

        --split FRACTION --seed S splits the single calibration run, per label, into FRACTION for \
        calibration and the rest held out as a test set, shuffled by a seeded SplitMix64 stream: the \
        same seed gives the same split on every machine.

        The report goes to stdout, or with --output to its own file, never into a run file: a \
        finished run file stays as the probe closed it (its layout is made up front so that a kill \
        cannot damage it; adding groups to it later is exactly such a risky write), and a selection \
        spans several runs, so it belongs to none of them. --format json writes the whole result.
        """)

    @Option(help: ArgumentHelp("A run to rank the heads on (repeat for several).", valueName: "RUN.h5"))
    var calibration: [String]

    @Option(help: ArgumentHelp("A run to test the chosen heads on (repeat for several).", valueName: "RUN.h5"))
    var test: [String] = []

    @Option(parsing: .unconditional, help: "How many of the best heads to report and to ensemble.")
    var topK = 3

    @Option(parsing: .unconditional, help: ArgumentHelp("Split the calibration run: this share of each label's rows calibrates, the rest is held out.",
                               valueName: "FRACTION"))
    var split: Double?

    @Option(parsing: .unconditional, help: "Seed of --split (default 0).")
    var seed: UInt64?

    @Option(help: "table, csv, markdown or json (default: from the --output extension .json/.csv/.md, else table).")
    var format: ReportFormat?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the report to this file instead of stdout.", valueName: "FILE"))
    var output: String?

    @Flag(help: "Overwrite the --output file if it exists (never a run file).")
    var force = false

    func validate() throws {
        if split != nil && calibration.count != 1 {
            throw ValidationError("--split splits one --calibration run, not \(calibration.count)")
        }
        if seed != nil && split == nil { throw ValidationError("--seed only applies with --split") }
    }

    func run() throws {
        func open(_ path: String) throws -> ProbeRun { try ProbeRun(contentsOf: URL(fileURLWithPath: path), name: path) }
        var calibrationRuns = try calibration.map(open)
        var testRuns = try test.map(open)
        let settings = split.map { SplitSettings(fraction: $0, seed: seed ?? 0) }
        if let settings {
            let parts = try calibrationRuns[0].split(settings)
            calibrationRuns = [parts.calibration]
            testRuns.insert(parts.heldOut, at: 0)
        }
        let selection = try HeadSelection(calibration: calibrationRuns, test: testRuns, topK: topK, split: settings)
        let report = selection.render(reportFormat)
        if let output {
            try OutputFile.write(report, to: output, overwrite: force, protecting: calibration + test)
        } else {
            print(report, terminator: "")
        }
    }

    private var reportFormat: ReportFormat {
        if let format { return format }
        switch output.map({ URL(fileURLWithPath: $0).pathExtension.lowercased() }) {
        case "json": return .json
        case "csv": return .csv
        case "md", "markdown": return .markdown
        default: return .table
        }
    }
}
