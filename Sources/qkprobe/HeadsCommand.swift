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
            QK-score (the first option on a tie). --format json writes the whole table, which \
            `qkprobe verify --expected` reads.
            """)

    @Argument(help: "The HDF5 run file.")
    var runFile: String

    @Option(help: "Break accuracy down by steps or distractors.")
    var by: Grouping?

    @Option(help: "How many heads to list.")
    var top = 10

    @Option(help: "table, csv, markdown or json.")
    var format: ReportFormat = .table

    func validate() throws {
        if top < 0 { throw ValidationError("--top must not be negative") }
    }

    func run() throws {
        let report = HeadReport(run: try RunReader(url: URL(fileURLWithPath: runFile)))
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

    @Option(help: "Heads to draw in the by-steps panel.")
    var top = 5

    func run() throws {
        let svg: String
        if let other = try CausalPlot.svg(of: URL(fileURLWithPath: runFile), headsFrom: headsFrom, top: top) {
            svg = other
        } else {
            if headsFrom != nil { throw ProbeCommandError("\(runFile): --heads-from outlines heads on a scan file, not a run file") }
            svg = HeadReport(run: try RunReader(url: URL(fileURLWithPath: runFile))).heatmapSVG(topHeads: top)
        }
        let url = URL(fileURLWithPath: output)
        do {
            try Data(svg.utf8).write(to: url, options: .atomic)
        } catch {
            throw ProbeCommandError("\(url.path): cannot write: \((error as NSError).localizedDescription)")
        }
        print("wrote \(url.path)")
    }
}

/// A one-line failure of a command.
struct ProbeCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
