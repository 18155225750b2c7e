import ArgumentParser
import Foundation
import ModelFormats
import Transformer
#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the forward pass over a prompt (build with -c release for meaningful numbers).",
        discussion: """
            Runs a prompt of --tokens token ids (logits at the last position only) once to warm up, then \
            --runs rounds, and prints the median time as tokens/s and achieved GFLOP/s (multiply-adds of every \
            matrix product and of causal attention count 2), and the peak resident memory. --compare also \
            loads the model with float32 weights. --ideal also runs the float32 sgemm ideal: every weight \
            product of the pass, as often as the pass runs it, alone in float32 (every core, one OpenBLAS \
            sgemm each on an even share of the columns), its weights read from memory as a pass reads them; \
            and the warm ideal, the same products on one matrix per shape, which stays in cache (no pass can \
            do that). Each round times one of each back to back, so a shared machine's slow spells fall on \
            all alike; the ratios printed (float32 speed, shares of the ideals) are the medians of the \
            rounds' own ratios. The share of the ideal is also printed as the fastest ideal pass over the \
            fastest pass: a busy machine only adds time, so each kind's fastest round is its nearest to an \
            undisturbed one.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, parsing: .unconditional, help: "Prompt length in tokens.")
    var tokens = 256

    @Option(name: .long, parsing: .unconditional, help: "Timed rounds; medians are reported.")
    var runs = 5

    @Option(help: weightStorageHelp)
    var weights: WeightStorage = .automatic

    @Flag(help: "Also time the model with float32 weights in each round and print the speed ratio.")
    var compare = false

    @Flag(help: "Also time the pass's weight products alone in float32 (the sgemm ideal; and the warm ideal, its weights in cache) in each round and print the share of each the pass reaches.")
    var ideal = false

    @Flag(help: "Also time the stages of the pass (norms, products, attention, ...) over --runs passes of their own.")
    var profile = false

    @Option(help: "table, or json for one object with tokens_per_second and gflops.")
    var format: OutputFormat = .table

    func validate() throws {
        guard tokens > 0 else { throw ValidationError("--tokens must be positive") }
        guard runs > 0 else { throw ValidationError("--runs must be positive") }
        guard runs <= 1000 else { throw ValidationError("--runs must be at most 1000") }
    }

    func run() throws {
        let path = try modelOptions.resolvedPath()
        modelOptions.applyThreads()
        let opened = try OpenedModel.open(path: path)
        // Before anything the size of the prompt is allocated.
        guard tokens <= opened.config.contextLength else {
            throw ValidationError("\(path): --tokens \(tokens) exceeds the model's context length of \(opened.config.contextLength)")
        }
        let loadStart = Date()
        let transformer = try Transformer(opened, storage: weights)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        // Fixed, spread-out token ids: speed does not depend on which tokens they are.
        let vocab = transformer.config.vocabSize
        let prompt = (0 ..< tokens).map { ($0 * 7919 + 13) % vocab }

        _ = try transformer.forward(prompt)
        let stages = profile ? try PassBenchmark.stageSeconds(transformer, prompt: prompt, runs: runs) : []
        // Before the float32 copy or the ideal's matrices take memory of their own.
        let peakBytes = Self.peakResidentBytes()
        let float32 = compare ? try Transformer(opened, storage: .float32) : nil
        let result = try PassBenchmark.measure(transformer, float32: float32, prompt: prompt, rounds: runs, ideal: ideal)
        let timed = result.seconds

        let flops = transformer.forwardFLOPs(tokens: tokens)
        let pinned = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        if format == .json {
            var object: [String: Any] = [
                "model": path, "tokens": tokens, "runs": runs, "seconds": timed,
                "tokens_per_second": Double(tokens) / timed, "gflops": flops / timed / 1e9,
                "weights": transformer.weightStorage.rawValue, "peak_resident_bytes": peakBytes,
                "load_seconds": loadSeconds,
                "blas_kernels": Transformer.blasKernels, "cores": ProcessInfo.processInfo.activeProcessorCount,
                "threads": Transformer.threadCount,
            ]
            if let pinned { object["openblas_coretype"] = pinned }
            if profile {
                object["stage_seconds_per_pass"] = Dictionary(uniqueKeysWithValues: stages.map { ($0.stage.rawValue, $0.seconds) })
            }
            if let float32Seconds = result.float32Seconds, let speed = result.speedOverFloat32 {
                object["float32_seconds"] = float32Seconds
                object["float32_tokens_per_second"] = Double(tokens) / float32Seconds
                object["speed_over_float32"] = speed
            }
            if let idealSeconds = result.idealSeconds, let share = result.shareOfIdeal {
                object["ideal_seconds"] = idealSeconds
                object["ideal_tokens_per_second"] = Double(tokens) / idealSeconds
                object["share_of_ideal"] = share
                if let warm = result.warmShareOfIdeal { object["warm_share_of_ideal"] = warm }
                if let float32Share = result.float32ShareOfIdeal { object["float32_share_of_ideal"] = float32Share }
                object["fastest_share_of_ideal"] = result.fastestShareOfIdeal
                if let float32Share = result.fastestFloat32ShareOfIdeal { object["fastest_float32_share_of_ideal"] = float32Share }
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        func fixed(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
        print("model       \(path) (\(transformer.config.name), \(transformer.weightStorage.rawValue) weights, loaded in \(fixed(loadSeconds, 2)) s)")
        print("prompt      \(tokens) tokens, median of \(runs) rounds: \(fixed(timed, 4)) s")
        print("speed       \(fixed(Double(tokens) / timed)) tokens/s, \(fixed(flops / timed / 1e9)) GFLOP/s")
        print("memory      peak resident \(fixed(Double(peakBytes) / 1e6, 0)) MB after the timed runs")
        if profile {
            let total = stages.reduce(0) { $0 + $1.seconds }
            let parts = stages.filter { $0.seconds > 0 }.map {
                "\($0.stage.rawValue) \(fixed($0.seconds * 1e3, 2)) ms (\(fixed(100 * $0.seconds / total, 1))%)"
            }
            print("stages      per pass: " + parts.joined(separator: ", "))
        }
        if let float32Seconds = result.float32Seconds, let speed = result.speedOverFloat32 {
            print("float32     \(fixed(Double(tokens) / float32Seconds)) tokens/s; \(transformer.weightStorage.rawValue)/float32 speed \(fixed(speed, 3)) (median of the rounds' ratios)")
        }
        if let idealSeconds = result.idealSeconds, let share = result.shareOfIdeal {
            for product in result.products {
                print("  sgemm \(product.shape) x\(product.count): \(fixed(product.seconds * 1e3, 3)) ms each")
            }
            var line = "ideal       float32 sgemm pass \(fixed(idealSeconds, 4)) s = \(fixed(Double(tokens) / idealSeconds)) tokens/s; pass reaches \(fixed(share, 3)) of it"
            if let float32Share = result.float32ShareOfIdeal { line += " (float32 weights: \(fixed(float32Share, 3)))" }
            print(line + " (median of the rounds' ratios)")
            if let warm = result.warmShareOfIdeal {
                print("            warm ideal (one matrix per shape, in cache): pass reaches \(fixed(warm, 3)) of it")
            }
            if let fastest = result.fastestShareOfIdeal {
                let float32 = result.fastestFloat32ShareOfIdeal.map { " (float32 weights: \(fixed($0, 3)))" } ?? ""
                print("            fastest ideal pass over fastest pass: \(fixed(fastest, 3))\(float32)")
            }
        }
        print("machine     \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Transformer.threadCount) threads, OpenBLAS kernels \(Transformer.blasKernels)\(pinned.map { " (OPENBLAS_CORETYPE=\($0))" } ?? "")")
    }

    /// The process's peak resident set so far (getrusage; Linux counts kilobytes, macOS bytes).
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
        #else
        getrusage(RUSAGE_SELF, &usage)
        return usage.ru_maxrss
        #endif
    }
}
