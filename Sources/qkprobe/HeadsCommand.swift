import ArgumentParser
import Foundation
import Reports
import RunStore

extension ReportFormat: ExpressibleByArgument {}
extension Grouping: ExpressibleByArgument {}

struct HeadsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heads",
        abstract: "Show a run's head accuracy table: the top heads against the model's own answer.",
        discussion: """
            Accuracy counts the finished, labelled samples; a head picks the option with the higher \
            QK-score (the first option on a tie). Every accuracy comes with n and a 95% Wilson \
            interval; each head with its balanced accuracy, answer share (constant heads give one \
            answer on every sample), McNemar's exact test against the model and a max-T adjusted p. \
            The best of all heads is tested against a label-permutation null of the maximum \
            (--permutations, --seed): the report says plainly when no head beats chance after \
            selection. A single run is exploratory; `qkprobe select` tests chosen heads on held-out \
            rows. --format json writes the whole report, which `qkprobe verify --expected` reads.
            """)

    @Argument(help: "The HDF5 run file.")
    var runFile: String

    @Option(help: "Break accuracy down by steps, distractors, or group (the source's own: Multi-LogiEval logic and rule, PARARULE-Plus QCat, the generator's family).")
    var by: Grouping?

    @Option(parsing: .unconditional, help: "How many heads to list.")
    var top = 10

    @Option(help: "table, csv, markdown or json.")
    var format: ReportFormat = .table

    @OptionGroup var permutation: PermutationOptions

    func validate() throws {
        if top < 0 { throw ValidationError("--top must not be negative") }
    }

    func run() throws {
        let report = HeadReport(run: try RunReader(url: URL(fileURLWithPath: runFile)),
                                permutations: permutation.permutations, seed: permutation.seed)
        print(report.render(format, top: top, by: by), terminator: "")
    }
}

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw a run's layer × head accuracy heatmap, with the model baseline marked and a by-steps panel, as SVG.",
        discussion: """
            Also draws the files of qkprobe scan (a heatmap of the head scores) and qkprobe ablate (clean, the \
            named heads off and every random draw, for accuracy and mean logit difference). With \
            --heads-from SELECTION.json --top K the QK-selected heads are outlined on a scan's heatmap.
            """)

    @Argument(help: "The HDF5 run file, or a scan or ablation file.")
    var runFile: String

    @Option(name: .customLong("heads-from"), help: "For a scan file: a selection file (qkprobe select --output) whose best heads to outline.")
    var headsFrom: String?

    @Option(name: [.short, .long], help: "The SVG file to write.")
    var output: String

    @Option(parsing: .unconditional, help: "Heads to draw in the by-steps panel.")
    var top = 5

    @Flag(help: "Overwrite the SVG file if it exists (never the run file).")
    var force = false

    @OptionGroup var permutation: PermutationOptions

    func validate() throws {
        if top < 0 { throw ValidationError("--top must not be negative") }
    }

    func run() throws {
        let svg: String
        if let other = try CausalPlot.svg(of: URL(fileURLWithPath: runFile), headsFrom: headsFrom, top: top) {
            svg = other
        } else {
            if headsFrom != nil { throw ProbeCommandError("\(runFile): --heads-from outlines heads on a scan file, not a run file") }
            let report = HeadReport(run: try RunReader(url: URL(fileURLWithPath: runFile)),
                                    permutations: permutation.permutations, seed: permutation.seed)
            svg = report.heatmapSVG(topHeads: top)
        }
        try OutputFile.write(svg, to: output, overwrite: force, protecting: [runFile] + (headsFrom.map { [$0] } ?? []))
        print("wrote \(output)")
    }
}

/// The label-permutation test of the best head, shared by the commands that report it.
struct PermutationOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Label permutations for the family-wise p of the best head (at least 100; recorded in the report).")
    var permutations = HeadStatistics.defaultPermutations

    @Option(parsing: .unconditional, help: "Seed of the label permutations (recorded in the report).")
    var seed: UInt64 = 0

    func validate() throws {
        guard (100...1_000_000).contains(permutations) else {
            throw ValidationError("--permutations must be between 100 and 1000000, not \(permutations)")
        }
    }
}

/// A one-line failure of a command.
struct ProbeCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
