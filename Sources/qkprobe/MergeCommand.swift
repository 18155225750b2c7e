import ArgumentParser
import Foundation
import Reports
import RunStore

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the shard files of one run (probe --shard I/N) into the run file an unsharded probe makes.",
        discussion: """
            The shards must share the model, dataset, settings and thread count, and together hold \
            every row exactly once, each written. Rows are copied as the shards wrote them (the result \
            equals an unsharded run with the same thread count) and the head tables are recomputed. \
            The merged file is built under OUTPUT.merging and renamed into place when complete.
            """)

    @Argument(help: "The shard files, in any order.")
    var shards: [String]

    @Option(name: [.short, .long], help: "The merged run file to write.")
    var output: String

    @Flag(help: "Replace an existing output file.")
    var force = false

    func validate() throws {
        if shards.isEmpty { throw ValidationError("give the shard files to merge") }
    }

    func run() throws {
        let summary = try ShardMerge.merge(shards.map { URL(fileURLWithPath: $0) }, into: URL(fileURLWithPath: output),
                                           overwrite: force)
        print("wrote \(summary.output.path): \(summary.rows) rows from \(summary.shards) shards")
    }
}
