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
            --runs times, and prints the median time as tokens/s and achieved GFLOP/s (multiply-adds of every \
            matrix product and of causal attention count 2), and the peak resident memory after the timed runs. \
            --compare also loads the model with float32 weights and alternates runs of the two, for their \
            speed ratio in one run. --ideal times each weight product of the pass on its own in float32 \
            (every core, one OpenBLAS sgemm each on an even share of the columns, best of 3): their sum is \
            the float32 sgemm ideal, and ideal time / pass time is the share of it the pass reaches.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, parsing: .unconditional, help: "Prompt length in tokens.")
    var tokens = 256

    @Option(name: .long, parsing: .unconditional, help: "Timed runs; the median is reported.")
    var runs = 5

    @Option(help: weightStorageHelp)
    var weights: WeightStorage = .stored

    @Flag(help: "Also time the model with float32 weights (runs alternate) and print the speed ratio.")
    var compare = false

    @Flag(help: "Also time the pass's weight products alone in float32 (the sgemm ideal) and print the ratio.")
    var ideal = false

    @Flag(help: "Also time the stages of the pass (norms, products, attention, ...) over the timed runs.")
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

        func timedPass(_ model: Transformer) throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try model.forward(prompt)
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        _ = try timedPass(transformer)
        var seconds: [Double] = []
        if profile { PassProfile.start() }
        for _ in 0 ..< runs { seconds.append(try timedPass(transformer)) }
        let stages = profile ? PassProfile.stop() : []
        // Before the float32 copy or the ideal's matrices take memory of their own.
        let peakBytes = Self.peakResidentBytes()
        let median = Self.median(seconds)

        var float32Median: Double?
        if compare {
            let float32 = try Transformer(opened, storage: .float32)
            _ = try timedPass(float32)
            var mine: [Double] = [], theirs: [Double] = []
            for _ in 0 ..< runs {
                mine.append(try timedPass(transformer))
                theirs.append(try timedPass(float32))
            }
            seconds = mine
            float32Median = Self.median(theirs)
        }
        let timed = Self.median(seconds)

        var idealSeconds: Double?
        var products: [(shape: Transformer.ProductShape, count: Int, seconds: Double)] = []
        if ideal {
            for (shape, count) in transformer.passProducts(tokens: tokens) {
                products.append((shape, count, Transformer.idealSeconds(shape)))
            }
            idealSeconds = products.reduce(0) { $0 + Double($1.count) * $1.seconds }
        }

        let flops = transformer.forwardFLOPs(tokens: tokens)
        let pinned = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        if format == .json {
            var object: [String: Any] = [
                "model": path, "tokens": tokens, "runs": runs, "seconds": timed,
                "tokens_per_second": Double(tokens) / timed, "gflops": flops / timed / 1e9,
                "weights": transformer.weightStorage.rawValue, "peak_resident_bytes": peakBytes,
                "first_median_seconds": median, "load_seconds": loadSeconds,
                "blas_kernels": Transformer.blasKernels, "cores": ProcessInfo.processInfo.activeProcessorCount,
                "threads": Transformer.threadCount,
            ]
            if let pinned { object["openblas_coretype"] = pinned }
            if profile {
                object["stage_seconds_per_pass"] = Dictionary(uniqueKeysWithValues: stages.map { ($0.stage.rawValue, $0.seconds / Double(runs)) })
            }
            if let float32Median {
                object["float32_seconds"] = float32Median
                object["float32_tokens_per_second"] = Double(tokens) / float32Median
                object["stored_over_float32_speed"] = float32Median / timed
            }
            if let idealSeconds {
                object["ideal_seconds"] = idealSeconds
                object["ideal_tokens_per_second"] = Double(tokens) / idealSeconds
                object["share_of_ideal"] = idealSeconds / timed
                if let float32Median { object["float32_share_of_ideal"] = idealSeconds / float32Median }
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        func fixed(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
        print("model       \(path) (\(transformer.config.name), \(transformer.weightStorage.rawValue) weights, loaded in \(fixed(loadSeconds, 2)) s)")
        print("prompt      \(tokens) tokens, median of \(runs) runs: \(fixed(timed, 4)) s")
        print("speed       \(fixed(Double(tokens) / timed)) tokens/s, \(fixed(flops / timed / 1e9)) GFLOP/s")
        print("memory      peak resident \(fixed(Double(peakBytes) / 1e6, 0)) MB after the timed runs")
        if profile {
            let total = stages.reduce(0) { $0 + $1.seconds }
            let parts = stages.filter { $0.seconds > 0 }.map {
                "\($0.stage.rawValue) \(fixed($0.seconds / Double(runs) * 1e3, 2)) ms (\(fixed(100 * $0.seconds / total, 1))%)"
            }
            print("stages      per pass: " + parts.joined(separator: ", "))
        }
        if let float32Median {
            print("float32     \(fixed(Double(tokens) / float32Median)) tokens/s (runs alternating): \(transformer.weightStorage.rawValue)/float32 speed \(fixed(float32Median / timed, 3))")
        }
        if let idealSeconds {
            for product in products {
                print("  sgemm \(product.shape) x\(product.count): \(fixed(product.seconds * 1e3, 3)) ms each")
            }
            var line = "ideal       float32 sgemm sum \(fixed(idealSeconds, 4)) s = \(fixed(Double(tokens) / idealSeconds)) tokens/s; pass reaches \(fixed(idealSeconds / timed, 3)) of it"
            if let float32Median { line += " (float32 weights: \(fixed(idealSeconds / float32Median, 3)))" }
            print(line)
        }
        print("machine     \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Transformer.threadCount) threads, OpenBLAS kernels \(Transformer.blasKernels)\(pinned.map { " (OPENBLAS_CORETYPE=\($0))" } ?? "")")
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

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
