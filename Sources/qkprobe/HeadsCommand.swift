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

    @Option(parsing: .unconditional, help: "How many heads to list.")
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
        abstract: "Draw a run's layer × head accuracy heatmap, with the model baseline marked and a by-steps panel, as SVG.")

    @Argument(help: "The HDF5 run file.")
    var runFile: String

    @Option(name: [.short, .long], help: "The SVG file to write.")
    var output: String

    @Option(parsing: .unconditional, help: "Heads to draw in the by-steps panel.")
    var top = 5

    @Flag(help: "Overwrite the SVG file if it exists (never the run file).")
    var force = false

    func validate() throws {
        if top < 0 { throw ValidationError("--top must not be negative") }
    }

    func run() throws {
        let report = HeadReport(run: try RunReader(url: URL(fileURLWithPath: runFile)))
        try OutputFile.write(report.heatmapSVG(topHeads: top), to: output, overwrite: force, protecting: [runFile])
        print("wrote \(output)")
    }
}
