import ArgumentParser
import RunStore
import Transformer

@main
struct QKProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qkprobe",
        abstract: "Probe which attention heads of a language model know the answer to a logic problem (QK-score).",
        version: "0.1.0",
        subcommands: [
            ProbeCommand.self, MergeCommand.self, HeadsCommand.self, PlotCommand.self, SelectCommand.self, VerifyCommand.self,
            DatasetCommand.self,
            AblateCommand.self, ScanCommand.self,
            InspectCommand.self, TokenizeCommand.self, GenerateCommand.self, TraceCommand.self, BenchCommand.self,
        ])

    static func main() {
        // A damaged run file that makes libhdf5 fault ends in one line naming it, not a crash report.
        HDF5FaultGuard.install()
        Transformer.keepFreedMemoryForReuse()
        main(nil)
    }
}
