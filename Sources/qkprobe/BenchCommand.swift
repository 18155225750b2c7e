import ArgumentParser
import Foundation
import ModelFormats
import Transformer

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the forward pass over a prompt (build with -c release for meaningful numbers).",
        discussion: """
            Runs a prompt of --tokens token ids (logits at the last position only) once to warm up, then \
            --runs times, and prints the median time as tokens/s and achieved GFLOP/s (multiply-adds of every \
            matrix product and of causal attention count 2).
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, parsing: .unconditional, help: "Prompt length in tokens.")
    var tokens = 256

    @Option(name: .long, parsing: .unconditional, help: "Timed runs; the median is reported.")
    var runs = 5

    @Option(help: "table, or json for one object with tokens_per_second and gflops.")
    var format: OutputFormat = .table

    func validate() throws {
        guard tokens > 0 else { throw ValidationError("--tokens must be positive") }
        guard runs > 0 else { throw ValidationError("--runs must be positive") }
    }

    func run() throws {
        let path = try modelOptions.resolvedPath()
        modelOptions.applyThreads()
        let loadStart = Date()
        let transformer = try Transformer(path: path)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        // Fixed, spread-out token ids: speed does not depend on which tokens they are.
        let vocab = transformer.config.vocabSize
        let prompt = (0 ..< tokens).map { ($0 * 7919 + 13) % vocab }

        _ = try transformer.forward(prompt)
        var seconds: [Double] = []
        for _ in 0 ..< runs {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try transformer.forward(prompt)
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let median = seconds.sorted()[seconds.count / 2]
        let tokensPerSecond = Double(tokens) / median
        let gflops = transformer.forwardFLOPs(tokens: tokens) / median / 1e9

        if format == .json {
            try printJSON([
                "model": path, "tokens": tokens, "runs": runs, "seconds": median,
                "tokens_per_second": tokensPerSecond, "gflops": gflops,
                "blas_kernels": Transformer.blasKernels, "cores": ProcessInfo.processInfo.activeProcessorCount,
            ])
            return
        }
        print("model       \(path) (\(transformer.config.name), loaded in \(String(format: "%.2f", loadSeconds)) s)")
        print("prompt      \(tokens) tokens, median of \(runs) runs: \(String(format: "%.4f", median)) s")
        print("speed       \(String(format: "%.1f", tokensPerSecond)) tokens/s, \(String(format: "%.1f", gflops)) GFLOP/s")
        let pinned = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { " (OPENBLAS_CORETYPE=\($0))" } ?? ""
        print("machine     \(ProcessInfo.processInfo.activeProcessorCount) cores, OpenBLAS kernels \(Transformer.blasKernels)\(pinned)")
    }
}
