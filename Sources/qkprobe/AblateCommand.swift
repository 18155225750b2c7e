import ArgumentParser
import Causal
import Foundation
import LogicTasks
import Pipeline
import Probe
import Selection
import Transformer

extension AblationMethod: ExpressibleByArgument {}


struct AblateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract: "Switch heads off and measure what the model loses on a dataset, against random heads of the same layers.",
        discussion: """
            Every sample runs clean, with the heads off, and with each random draw off; kept are the answer \
            options' logits after the prompt. Reported: accuracy (95% Wilson interval) and the mean logit \
            difference, the right option minus the best wrong one (95% t interval), clean and ablated; the \
            paired change (McNemar's exact test on flipped answers, t interval on the logit difference \
            change); for random draws, their distribution and the share of draws that hurt at least as much.

            --method zero sets the head's hook_z slice (its attention output before the output projection) \
            to 0 at every position; mean replaces it by its mean over every token of the dataset; \
            query-zero sets the head's query to 0 after rotary embedding, so it attends uniformly.

            --output writes /samples/id, /ablation/clean_logit and /ablation/ablated_logit [N, O] in dataset \
            order, /ablation/heads, and /ablation/random_heads [R, K, 2] and /ablation/random_logit [R, N, O].
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "The dataset: a file or a folder.")
    var dataset: String

    @Option(name: .customLong("dataset-format"), help: "The dataset's format; auto tells it from the content.")
    var datasetFormat: DatasetFormatChoice = .auto

    @Option(help: "A template file with {context} and {question}.")
    var template: String?

    @Option(help: "Heads to switch off, e.g. L3H5,L10H0.")
    var heads: String?

    @Option(name: .customLong("heads-from"), help: "A selection file (qkprobe select --output): its first calibration set's heads, best first.")
    var headsFrom: String?

    @Option(help: "With --heads-from: how many of the best heads.")
    var top: Int?

    @Option(help: "zero, mean or query-zero.")
    var method: AblationMethod = .zero

    @Option(name: .customLong("random-draws"), help: "Random head sets to switch off instead, as many per layer as the named heads.")
    var randomDraws = 0

    @Option(help: "Seed of the random draws and of --sample.")
    var seed: UInt64 = 0

    @OptionGroup var rowOptions: RowOptions

    @Option(name: .customLong("option-token"), help: "For an option that is several tokens: exact (error), first or last token.")
    var optionToken: OptionTokenPolicy = .exact

    @Option(name: [.short, .long], help: "Write the logits to this HDF5 file.")
    var output: String?

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Option(help: "table, or json (with every sample).")
    var format: OutputFormat = .table


    func validate() throws {
        switch (heads, headsFrom) {
        case (nil, nil): throw ValidationError("name heads with --heads or --heads-from")
        case (.some, .some): throw ValidationError("--heads and --heads-from exclude each other")
        case (nil, .some): if top == nil { throw ValidationError("--heads-from needs --top K") }
        case (.some, nil): if top != nil { throw ValidationError("--top goes with --heads-from") }
        }
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        if randomDraws < 0 { throw ValidationError("--random-draws must be 0 or more") }
    }

    func run() throws {
        let datasetURL = URL(fileURLWithPath: dataset)
        let loadedDataset = try datasetFormat.resolve(for: datasetURL).load(datasetURL)
        let samples = rowOptions.samples(of: loadedDataset, from: datasetURL, seed: seed)
        let promptTemplate = try template.map { try PromptTemplate(contentsOf: URL(fileURLWithPath: $0)) }
        let chosen = try heads.map(HeadID.list) ?? selectedHeads()
        if let output {
            if FileManager.default.fileExists(atPath: output), !force { throw ProbeError("\(output): exists; pass --force to replace it") }
            try OutputGuard.ensureNotAnInput(URL(fileURLWithPath: output), inputs: [datasetURL, URL(fileURLWithPath: try modelOptions.resolvedPath())]
                                             + [template, headsFrom].compactMap { $0.map { URL(fileURLWithPath: $0) } })
        }
        let loaded = try modelOptions.load()
        let prepared = try samples.map { sample in
            AblationSample(try PreparedSample(sample, template: promptTemplate, tokenizer: loaded.tokenizer, optionPolicy: optionToken),
                           label: sample.label)
        }
        let experiment = try AblationExperiment(model: loaded.transformer, heads: chosen, method: method,
                                                randomDraws: randomDraws, seed: seed)
        var progress = Progress(total: experiment.passCount(samples: prepared.count), alreadyDone: 0)
        let result = try experiment.run(prepared) { _ in progress.advance() }
        let report = AblationReport(
            result: result, sampleIDs: samples.map(\.id), options: loadedDataset.options,
            attributes: ["model_path": loaded.path, "model_name": loaded.transformer.config.name,
                         "dataset": datasetURL.path, "dataset_sha256": try datasetDigest(datasetURL),
                         "seed": String(seed), "heads": chosen.map(\.name).joined(separator: ",")])
        if let output { try report.write(to: URL(fileURLWithPath: output), overwrite: force) }
        switch format {
        case .table:
            print(report.text, terminator: "")
            if let output { print("wrote \(output)") }
        case .json: print(try report.json(perSample: true), terminator: "")
        }
    }

    private func selectedHeads() throws -> [HeadID] {
        guard let headsFrom, let top else { return [] }
        return try CausalPlot.selectedHeads(headsFrom, top: top)
    }
}
