import Foundation
import XCTest

/// Malformed inputs of every kind the tool reads (GGUF; safetensors with config.json and
/// tokenizer.json; run files; every dataset format; templates; FIFOs and devices), each run
/// through the binary as a user would, under a memory limit and a timeout.
///
/// Every run must end by itself (no hang), without a signal (no crash or trap), within the
/// memory limit (an unbounded allocation fails there and traps), and either succeed or print
/// exactly one line naming the input. Inputs whose damage is certain (a truncated file, broken
/// JSON syntax, sizes and counts no file can hold, an unknown type) must fail. Random byte flips
/// and changed model hyper-parameters may leave a file that is still valid, so they must only not
/// crash, hang or exhaust memory: hyper-parameter validation belongs to the model families, and
/// these runs keep to `inspect`, which reads without building the model.
final class FuzzTests: XCTestCase {
    /// Address space for one run, in KiB (`ulimit -v`): far above what a tiny model needs, far
    /// below what a size taken from a damaged header would ask for.
    static let memoryLimitKiB = 3_000_000
    static let timeout: TimeInterval = 60

    struct Run {
        let label: String
        let arguments: [String]
        /// The error must contain one of these: the damaged input's path (or, for a template, the
        /// dataset's, when the template is valid but makes a prompt too long for the model).
        let names: [String]
        let mustFail: Bool
    }

    struct Outcome {
        let status: Int32
        let signalled: Bool
        let timedOut: Bool
        let stderr: String
    }

    private var directory: URL!
    private var runs: [Run] = []
    private var inputs = 0
    private var rng = SplitMix64(seed: 0x9E37_79B9_2026_1201)

    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var root: URL { CLI.packageRoot }
    private var tinyLlama: URL { root.appendingPathComponent("Tests/TransformerTests/Fixtures/tiny-llama") }
    private var datasetFixtures: URL { root.appendingPathComponent("Tests/LogicTasksTests/Fixtures") }

    /// Two run files, each one flipped byte away from a valid one, on which libhdf5 1.10 itself
    /// faults (copying a variable-length attribute; reading a dataset whose storage message is
    /// damaged): every reading command ends in one line naming the file (the one `HDF5FaultGuard`
    /// armed, here), status 1, no signal.
    func testRunFilesThatMakeLibHDF5FaultEndInOneLine() throws {
        for name in ["faults-libhdf5-attribute.h5", "faults-libhdf5-dataset.h5"] {
            let path = root.appendingPathComponent("Tests/CLITests/Fixtures/\(name)").path
            for arguments in [["heads", path, "--format", "json"], ["select", "--calibration", path, "--format", "json"]] {
                let outcome = Self.run(arguments)
                XCTAssertFalse(outcome.signalled || outcome.timedOut, "\(arguments): \(outcome.stderr.suffix(300))")
                XCTAssertEqual(outcome.status, 1, "\(arguments)")
                let lines = outcome.stderr.split(separator: "\n")
                XCTAssertEqual(lines.count, 1, "\(arguments): \(outcome.stderr)")
                XCTAssertTrue(lines.first?.hasPrefix("Error: \(path): cannot read") == true, outcome.stderr)
            }
        }
    }

    func testMalformedInputsGiveOneLineErrorsAndNeverCrashHangOrExhaustMemory() throws {
        let base = try makeBaseInputs()
        try ggufCases()
        try huggingFaceCases()
        try runFileCases(base.run)
        try datasetCases()
        try templateCases(dataset: base.structuredDataset)
        try specialFileCases(base)
        XCTAssertGreaterThanOrEqual(inputs, 500)

        let outcomes = Self.runAll(runs)
        var counts = (errors: 0, accepted: 0, mustFailAccepted: 0, crashes: 0, hangs: 0, unclear: 0)
        var failures: [String] = []
        for (run, outcome) in zip(runs, outcomes) {
            if outcome.timedOut {
                counts.hangs += 1
                failures.append("\(run.label): no result after \(Int(Self.timeout)) s")
            } else if outcome.signalled {
                counts.crashes += 1
                failures.append("\(run.label): killed by signal \(outcome.status): \(outcome.stderr.suffix(300))")
            } else if outcome.status == 0 {
                counts.accepted += 1
                if run.mustFail {
                    counts.mustFailAccepted += 1
                    failures.append("\(run.label): accepted")
                }
            } else {
                let message = outcome.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
                if message.isEmpty || message.contains("\n") || !run.names.contains(where: { message.contains($0) }) {
                    counts.unclear += 1
                    failures.append("\(run.label): not one line naming \(run.names): \(message.prefix(400))")
                } else {
                    counts.errors += 1
                }
            }
        }
        print("fuzz: \(inputs) malformed inputs, \(runs.count) runs (\(runs.filter(\.mustFail).count) that must fail): "
              + "\(counts.errors) one-line errors, \(counts.accepted) accepted (\(counts.mustFailAccepted) wrongly), "
              + "\(counts.crashes) crashes, \(counts.hangs) hangs, \(counts.unclear) unclear errors")
        XCTAssertTrue(failures.isEmpty, "\(failures.count) bad outcomes:\n" + failures.prefix(40).joined(separator: "\n"))
    }

    // MARK: Running

    /// Runs every case, two at a time (the CI machine has two cores).
    static func runAll(_ runs: [Run]) -> [Outcome] {
        let results = OutcomeStore(count: runs.count)
        let next = NextIndex()
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            while let index = next.take(below: runs.count) {
                results.set(index, run(runs[index].arguments))
            }
        }
        return results.all
    }

    /// One run of the binary under `ulimit -v` and a timeout; stdout is discarded.
    static func run(_ arguments: [String]) -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "ulimit -v \(memoryLimitKiB) && exec \"$0\" \"$@\"", CLI.executable.path] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do { try process.run() } catch {
            return Outcome(status: -1, signalled: true, timedOut: false, stderr: "cannot start: \(error)")
        }
        nonisolated(unsafe) var errorData = Data()
        let reader = DispatchGroup()
        DispatchQueue.global().async(group: reader) { errorData = errors.fileHandleForReading.readDataToEndOfFile() }
        var timedOut = false
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
        }
        reader.wait()
        return Outcome(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                       timedOut: timedOut, stderr: String(decoding: errorData, as: UTF8.self))
    }

    // MARK: Inputs

    private struct BaseInputs {
        let run: URL
        let structuredDataset: URL
    }

    /// A small run file of the tiny model, and checks that the unmodified inputs pass the harness.
    private func makeBaseInputs() throws -> BaseInputs {
        let samples = try String(contentsOf: root.appendingPathComponent("datasets/logic-test.jsonl"), encoding: .utf8)
            .split(separator: "\n").prefix(6).joined(separator: "\n") + "\n"
        let dataset = directory.appendingPathComponent("six.jsonl")
        try Data(samples.utf8).write(to: dataset)
        let run = directory.appendingPathComponent("base.h5")
        let probe = Self.run(["probe", "--model", tinyLlama.path, "--dataset", dataset.path, "-o", run.path,
                              "--option-token", "first", "--save-activations", "--threads", "1"])
        XCTAssertEqual(probe.status, 0, probe.stderr)
        XCTAssertFalse(probe.signalled || probe.timedOut)
        let structured = datasetFixtures.appendingPathComponent("pararule/depth-mixed.jsonl")
        for arguments in [["inspect", "--model", tinyLlama.appendingPathComponent("model.gguf").path],
                          ["inspect", "--model", tinyLlama.path],
                          ["tokenize", "--model", tinyLlama.path, "The cat is small."],
                          ["bench", "--model", tinyLlama.path, "--tokens", "4", "--runs", "1"],
                          ["heads", run.path],
                          ["dataset", "stats", structured.path]] {
            let outcome = Self.run(arguments)
            XCTAssertEqual(outcome.status, 0, "the harness fails a valid input: \(arguments) \(outcome.stderr)")
        }
        return BaseInputs(run: run, structuredDataset: structured)
    }

    /// A new file in the case folder with `bytes`, counted as one input.
    private func input(_ name: String, _ bytes: [UInt8]) throws -> URL {
        inputs += 1
        let url = directory.appendingPathComponent("\(inputs)-\(name)")
        try Data(bytes).write(to: url)
        return url
    }

    /// A copy of the tiny model folder (links to its files) with `file` replaced by `bytes`.
    private func folder(replacing file: String, with bytes: [UInt8]?) throws -> URL {
        inputs += 1
        let folder = directory.appendingPathComponent("\(inputs)-model")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] where name != file {
            try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent(name),
                                                       withDestinationURL: tinyLlama.appendingPathComponent(name))
        }
        if let bytes { try Data(bytes).write(to: folder.appendingPathComponent(file)) }
        return folder
    }

    private func add(_ label: String, _ arguments: [String], names: URL, or other: URL? = nil, mustFail: Bool) {
        runs.append(Run(label: label, arguments: arguments, names: [names.path] + (other.map { [$0.path] } ?? []), mustFail: mustFail))
    }

    // MARK: GGUF

    private func ggufCases() throws {
        let original = try [UInt8](Data(contentsOf: tinyLlama.appendingPathComponent("model.gguf")))
        let layout = try GGUFLayout(original)
        func model(_ label: String, _ bytes: [UInt8], mustFail: Bool, loadWeights: Bool = true) throws {
            let url = try input("model.gguf", bytes)
            add("gguf \(label)", ["inspect", "--model", url.path], names: url, mustFail: mustFail)
            if loadWeights {
                add("gguf \(label) (bench)", ["bench", "--model", url.path, "--tokens", "4", "--runs", "1", "--threads", "1"],
                    names: url, mustFail: mustFail)
            }
        }
        for _ in 0..<20 {
            let cut = rng.int(below: original.count - 1) + 1
            try model("truncated at \(cut)", Array(original[..<cut]), mustFail: true)
        }
        try model("bad magic", patched(original, at: 0, [0x47, 0x47, 0x55, 0x47]), mustFail: true)
        for version: UInt32 in [0, 4, 0xFFFF_FFFF] {
            try model("version \(version)", patched(original, at: 4, le(version)), mustFail: true)
        }
        for count: UInt64 in [1 << 32, 1 << 62, UInt64.max] {
            try model("tensor count \(count)", patched(original, at: 8, le(count)), mustFail: true)
            try model("metadata count \(count)", patched(original, at: 16, le(count)), mustFail: true)
        }
        for entry in rng.sample(layout.entries, 12) {
            try model("key length of \(entry.key)", patched(original, at: entry.keyOffset, le(UInt64(1) << 40)), mustFail: true)
            try model("value type of \(entry.key)", patched(original, at: entry.typeOffset, le(UInt32(13 + rng.int(below: 80)))),
                      mustFail: true)
            if let lengthOffset = entry.lengthOffset {
                try model("length of \(entry.key)", patched(original, at: lengthOffset, le(UInt64(1) << 44)), mustFail: true)
            }
        }
        for tensor in rng.sample(layout.tensors, 8) {
            try model("dimensions of \(tensor.name)", patched(original, at: tensor.rankOffset, le(UInt32(9 + rng.int(below: 50)))), mustFail: true)
            try model("extent of \(tensor.name)", patched(original, at: tensor.firstDimensionOffset, le(UInt64(1) << 40)), mustFail: true)
            try model("type of \(tensor.name)", patched(original, at: tensor.typeOffset, le(UInt32(100 + rng.int(below: 100)))), mustFail: true)
            try model("offset of \(tensor.name)", patched(original, at: tensor.dataOffsetOffset, le(UInt64(original.count) * 4)), mustFail: true)
        }
        for _ in 0..<25 {
            try model("header byte flip", flipped(original, in: 0..<layout.dataStart), mustFail: false, loadWeights: false)
        }
        for _ in 0..<8 {
            try model("data byte flip", flipped(original, in: layout.dataStart..<original.count), mustFail: false)
        }
        // Hyper-parameters no file of this model could have; validating them is the model family's
        // job (inspect only reads), so these must not crash, hang or exhaust memory.
        for (key, value) in [("llama.attention.head_count", UInt32.max), ("llama.block_count", 1_000_000),
                             ("llama.embedding_length", 7), ("llama.context_length", 0)] {
            guard let entry = layout.entries.first(where: { $0.key == key }), entry.valueType == 4 else { continue }
            try model("\(key) = \(value)", patched(original, at: entry.typeOffset + 4, le(value)), mustFail: false, loadWeights: false)
        }
    }

    // MARK: Hugging Face folders

    private func huggingFaceCases() throws {
        func folderRuns(_ label: String, file: String, bytes: [UInt8]?, mustFail: Bool, tokenizer: Bool = true, load: Bool = true) throws {
            let folder = try folder(replacing: file, with: bytes)
            // inspect reads config.json, the weights' header and tokenizer.json (for its kind), but
            // not tokenizer_config.json; tokenize reads the two tokenizer files only.
            add("\(file) \(label)", ["inspect", "--model", folder.path], names: folder,
                mustFail: mustFail && (file == "config.json" || file == "model.safetensors"))
            if tokenizer {
                add("\(file) \(label) (tokenize)", ["tokenize", "--model", folder.path, "The cat is small."], names: folder,
                    mustFail: mustFail && file != "config.json" && file != "model.safetensors")
            }
            if load {
                add("\(file) \(label) (bench)", ["bench", "--model", folder.path, "--tokens", "4", "--runs", "1", "--threads", "1"],
                    names: folder, mustFail: mustFail && file != "tokenizer.json" && file != "tokenizer_config.json")
            }
        }
        let weights = try [UInt8](Data(contentsOf: tinyLlama.appendingPathComponent("model.safetensors")))
        let headerLength = Int(UInt64(littleEndian: weights[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        let header = Array(weights[8..<8 + headerLength])
        let body = Array(weights[(8 + headerLength)...])
        for _ in 0..<15 {
            let cut = rng.int(below: weights.count - 1) + 1
            try folderRuns("truncated at \(cut)", file: "model.safetensors", bytes: Array(weights[..<cut]), mustFail: true, tokenizer: false)
        }
        for length: UInt64 in [0, 1 << 40, UInt64.max, UInt64(headerLength + 1)] {
            try folderRuns("header length \(length)", file: "model.safetensors", bytes: patched(weights, at: 0, le(length)),
                           mustFail: true, tokenizer: false)
        }
        for _ in 0..<15 {
            try folderRuns("header syntax", file: "model.safetensors",
                           bytes: le(UInt64(headerLength)) + breakJSONSyntax(header) + body, mustFail: true, tokenizer: false)
        }
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(header)) as? [String: Any])
        let names = object.keys.filter { $0 != "__metadata__" }.sorted()
        func rewritten(_ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
            var copy = object
            edit(&copy)
            let json = try [UInt8](JSONSerialization.data(withJSONObject: copy, options: [.sortedKeys]))
            return le(UInt64(json.count)) + json + body
        }
        for name in rng.sample(names, 5) {
            func tensor(_ edit: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
                { all in var entry = all[name] as? [String: Any] ?? [:]; edit(&entry); all[name] = entry }
            }
            try folderRuns("dtype of \(name)", file: "model.safetensors", bytes: rewritten(tensor { $0["dtype"] = "Q99" }),
                           mustFail: true, tokenizer: false)
            try folderRuns("offsets of \(name)", file: "model.safetensors",
                           bytes: rewritten(tensor { $0["data_offsets"] = [0, 1 << 40] }), mustFail: true, tokenizer: false)
            try folderRuns("shape of \(name)", file: "model.safetensors",
                           bytes: rewritten(tensor { $0["shape"] = [1 << 20, 1 << 20] }), mustFail: true, tokenizer: false)
        }
        for _ in 0..<12 {
            try folderRuns("byte flip", file: "model.safetensors", bytes: flipped(weights, in: 0..<weights.count),
                           mustFail: false, tokenizer: false)
        }

        for file in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
            let text = try [UInt8](Data(contentsOf: tinyLlama.appendingPathComponent(file)))
            let large = file == "tokenizer.json"
            for _ in 0..<(large ? 8 : 6) {
                try folderRuns("truncated", file: file, bytes: truncatedJSON(text), mustFail: true, load: file == "config.json")
                try folderRuns("syntax", file: file, bytes: breakJSONSyntax(text), mustFail: true, load: file == "config.json")
            }
            for _ in 0..<5 {
                try folderRuns("byte flip", file: file, bytes: flipped(text, in: 0..<text.count), mustFail: false, load: false)
            }
        }
        let tokenizer = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: tinyLlama.appendingPathComponent("tokenizer.json"))) as? [String: Any])
        func tokenizerEdit(_ label: String, _ edit: (inout [String: Any]) -> Void) throws {
            var copy = tokenizer
            edit(&copy)
            try folderRuns(label, file: "tokenizer.json", bytes: [UInt8](JSONSerialization.data(withJSONObject: copy)),
                           mustFail: true, load: false)
        }
        try tokenizerEdit("model type Unigram") { $0["model"] = ($0["model"] as? [String: Any] ?? [:]).merging(["type": "Unigram"]) { $1 } }
        try tokenizerEdit("vocab id a string") { root in
            var model = root["model"] as? [String: Any] ?? [:]
            var vocab = model["vocab"] as? [String: Any] ?? [:]
            if let key = vocab.keys.sorted().first { vocab[key] = "seven" }
            model["vocab"] = vocab
            root["model"] = model
        }
        try tokenizerEdit("model missing") { $0["model"] = nil }
        try tokenizerEdit("pre-tokenizer unknown") { $0["pre_tokenizer"] = ["type": "NoSuchPreTokenizer"] }
        // Hyper-parameters (the model family validates them): must not crash in inspect.
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: tinyLlama.appendingPathComponent("config.json"))) as? [String: Any])
        for (key, value) in [("num_attention_heads", 4_611_686_018_427_387_904 as Any), ("hidden_size", 63 as Any),
                             ("num_hidden_layers", "two" as Any), ("vocab_size", -1 as Any), ("head_dim", 7 as Any),
                             ("rms_norm_eps", "tiny" as Any)] {
            var copy = config
            copy[key] = value
            try folderRuns("\(key) = \(value)", file: "config.json", bytes: [UInt8](JSONSerialization.data(withJSONObject: copy)),
                           mustFail: false, tokenizer: false, load: false)
        }
    }

    // MARK: Run files

    private func runFileCases(_ base: URL) throws {
        let original = try [UInt8](Data(contentsOf: base))
        func run(_ label: String, _ bytes: [UInt8], mustFail: Bool, more: Bool = false) throws {
            let url = try input("run.h5", bytes)
            add("run file \(label)", ["heads", url.path, "--format", "json"], names: url, mustFail: mustFail)
            if more {
                add("run file \(label) (select)", ["select", "--calibration", url.path, "--format", "json"], names: url, mustFail: mustFail)
                let svg = directory.appendingPathComponent("\(inputs).svg")
                add("run file \(label) (plot)", ["plot", url.path, "-o", svg.path], names: url, mustFail: mustFail)
            }
        }
        for index in 0..<25 {
            let cut = rng.int(below: original.count - 1) + 1
            try run("truncated at \(cut)", Array(original[..<cut]), mustFail: true, more: index < 5)
        }
        try run("no signature", patched(original, at: 1, [0x00]), mustFail: true)
        // Every object of every global heap collection (where strings and token ids live) given a
        // size beyond its collection: HDF5 1.10 itself would copy past the heap and crash.
        let collections = GlobalHeaps(original)
        XCTAssertFalse(collections.objectSizeOffsets.isEmpty, "the run file has no global heap objects to damage")
        for (index, offset) in collections.objectSizeOffsets.enumerated() {
            let size = UInt64(1) << UInt64(12 + rng.int(below: 40))
            try run("heap object \(index) size \(size)", patched(original, at: offset, le(size)), mustFail: true, more: index < 3)
        }
        for (index, offset) in collections.collectionSizeOffsets.enumerated() {
            try run("heap collection \(index) size", patched(original, at: offset, le(UInt64(original.count) * 2)), mustFail: true)
        }
        for _ in 0..<60 {
            try run("metadata byte flip", flipped(original, in: 0..<min(original.count, 8192)), mustFail: false)
        }
        for index in 0..<20 {
            try run("byte flip", flipped(original, in: 0..<original.count), mustFail: false, more: index < 4)
        }
    }

    // MARK: Datasets

    private func datasetCases() throws {
        let prompts = try String(contentsOf: root.appendingPathComponent("datasets/logic-test.jsonl"), encoding: .utf8)
            .split(separator: "\n").prefix(4).joined(separator: "\n") + "\n"
        let files: [(format: String, name: String, bytes: [UInt8])] = [
            ("prompts", "set.jsonl", Array(prompts.utf8)),
            ("pararule", "set.jsonl", try [UInt8](Data(contentsOf: datasetFixtures.appendingPathComponent("pararule/depth-mixed.jsonl")))),
            ("multilogieval", "set.json", try [UInt8](Data(contentsOf: datasetFixtures.appendingPathComponent("multilogieval/data/d1_Data/pl/CT.json")))),
            ("prontoqa", "set.json", try [UInt8](Data(contentsOf: datasetFixtures.appendingPathComponent("prontoqa/logic-llm.json")))),
            ("prontoqa", "original.json", try [UInt8](Data(contentsOf: datasetFixtures.appendingPathComponent("prontoqa/original.json")))),
        ]
        for (format, name, original) in files {
            func dataset(_ label: String, _ bytes: [UInt8], mustFail: Bool, probe: Bool = false) throws {
                let url = try input(name, bytes)
                add("\(format) \(label)", ["dataset", "stats", url.path], names: url, mustFail: mustFail)
                add("\(format) \(label) (named format)", ["dataset", "stats", url.path, "--dataset-format", format], names: url,
                    mustFail: mustFail)
                if probe {
                    let output = directory.appendingPathComponent("\(inputs)-probe.h5")
                    add("\(format) \(label) (probe)", ["probe", "--model", tinyLlama.path, "--dataset", url.path, "-o", output.path,
                                                        "--option-token", "first", "--threads", "1"], names: url, mustFail: mustFail)
                }
            }
            let lines = name.hasSuffix(".jsonl")
            for index in 0..<8 {
                try dataset("truncated", lines ? truncatedLine(original) : truncatedJSON(original), mustFail: true, probe: index < 2)
                try dataset("syntax", breakJSONSyntax(original), mustFail: true, probe: index < 2)
            }
            for index in 0..<8 {
                try dataset("byte flip", flipped(original, in: 0..<original.count), mustFail: false, probe: index < 2)
            }
            try dataset("empty", [], mustFail: true)
            try dataset("not UTF-8", Array(original.prefix(40)) + [0xFF, 0xFE, 0x00, 0xC3] + Array(original.dropFirst(40)), mustFail: true)
        }
        // Samples the model cannot take: the probe's errors name the dataset file.
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(prompts.split(separator: "\n")[0].utf8)) as? [String: Any])
        func promptEdit(_ label: String, _ edit: (inout [String: Any]) -> Void) throws {
            var copy = record
            edit(&copy)
            let url = try input("edited.jsonl", [UInt8](JSONSerialization.data(withJSONObject: copy)) + [0x0A])
            let output = directory.appendingPathComponent("\(inputs)-probe.h5")
            add("prompts \(label) (probe)", ["probe", "--model", tinyLlama.path, "--dataset", url.path, "-o", output.path, "--threads", "1"],
                names: url, mustFail: true)
        }
        try promptEdit("option of several tokens") { $0["options"] = [" True and more", " False and less"] }
        try promptEdit("empty option") { $0["options"] = ["", " False"] }
        try promptEdit("prompt longer than the context") { $0["prompt"] = String(repeating: "The cat is small. ", count: 400) + "\nAnswer:" }
        try promptEdit("huge prompt") { $0["prompt"] = String(repeating: "The cat is small. ", count: 300_000) + "\nAnswer:" }
        try promptEdit("label out of range") { $0["label"] = 7 }
        try promptEdit("label a string") { $0["label"] = "True" }
        try promptEdit("steps 10^12") { $0["steps"] = 1_000_000_000_000 }
        try promptEdit("no Answer") { $0["prompt"] = "The cat is small. Is it?" }
        try promptEdit("options missing") { $0["options"] = nil }
        try promptEdit("options not a list") { $0["options"] = " True" }
    }

    // MARK: Templates

    private func templateCases(dataset: URL) throws {
        let valid = Array("Facts: {context}\nQ: {question}\nAnswer:".utf8)
        func template(_ label: String, _ bytes: [UInt8], mustFail: Bool) throws {
            let url = try input("template.txt", bytes)
            let output = directory.appendingPathComponent("\(inputs)-probe.h5")
            add("template \(label)", ["probe", "--model", tinyLlama.path, "--dataset", dataset.path, "--template", url.path,
                                      "-o", output.path, "--option-token", "first", "--threads", "1"], names: url, or: dataset,
                mustFail: mustFail)
        }
        for (label, text) in [("unknown placeholder", "{context}\n{questoin}\nAnswer:"), ("unclosed brace", "{context\nAnswer:"),
                              ("lone closing brace", "{context} }\n{question}\nAnswer:"), ("no Answer", "{context} {question}"),
                              ("nothing before Answer", "Answer: {context} {question}"), ("empty", "")] {
            try template(label, Array(text.utf8), mustFail: true)
        }
        try template("not UTF-8", valid.prefix(10) + [0xFF, 0xC3] + valid.dropFirst(10), mustFail: true)
        for _ in 0..<8 {
            try template("truncated", Array(valid.prefix(rng.int(below: valid.count))), mustFail: false)
            try template("byte flip", flipped(valid, in: 0..<valid.count), mustFail: false)
        }
    }

    // MARK: FIFOs and devices

    private func specialFileCases(_ base: BaseInputs) throws {
        func fifo(_ name: String) throws -> URL {
            inputs += 1
            let url = directory.appendingPathComponent("\(inputs)-\(name)")
            XCTAssertEqual(mkfifo(url.path, 0o600), 0)
            return url
        }
        let device = URL(fileURLWithPath: "/dev/zero")
        for (label, url) in [("FIFO", try fifo("model.gguf")), ("device", device)] {
            inputs += label == "device" ? 1 : 0
            add("model \(label)", ["inspect", "--model", url.path], names: url, mustFail: true)
            add("dataset \(label)", ["dataset", "stats", url.path], names: url, mustFail: true)
            add("run file \(label)", ["heads", url.path], names: url, mustFail: true)
        }
        let template = try fifo("template.txt")
        add("template FIFO", ["probe", "--model", tinyLlama.path, "--dataset", base.structuredDataset.path, "--template", template.path,
                              "-o", directory.appendingPathComponent("fifo.h5").path], names: template, mustFail: true)
        let expected = try fifo("expected.json")
        add("expected FIFO", ["verify", base.run.path, "--expected", expected.path], names: expected, mustFail: true)
        let dataset = try fifo("set.jsonl")
        add("probe dataset FIFO", ["probe", "--model", tinyLlama.path, "--dataset", dataset.path,
                                   "-o", directory.appendingPathComponent("fifo2.h5").path], names: dataset, mustFail: true)
        for file in ["config.json", "tokenizer.json", "model.safetensors"] {
            let folder = try folder(replacing: file, with: nil)
            XCTAssertEqual(mkfifo(folder.appendingPathComponent(file).path, 0o600), 0)
            add("\(file) FIFO", ["inspect", "--model", folder.path], names: folder, mustFail: file != "tokenizer.json")
            add("\(file) FIFO (tokenize)", ["tokenize", "--model", folder.path, "x"], names: folder, mustFail: file == "tokenizer.json")
        }
    }

    // MARK: Mutations

    private func patched(_ bytes: [UInt8], at offset: Int, _ replacement: [UInt8]) -> [UInt8] {
        var copy = bytes
        copy.replaceSubrange(offset..<min(offset + replacement.count, copy.count), with: replacement.prefix(copy.count - offset))
        return copy
    }

    private func flipped(_ bytes: [UInt8], in range: Range<Int>) -> [UInt8] {
        var copy = bytes
        for _ in 0..<(1 + rng.int(below: 3)) {
            let index = range.lowerBound + rng.int(below: range.count)
            copy[index] ^= UInt8(1 + rng.int(below: 255))
        }
        return copy
    }

    /// A JSON document cut before its last non-space byte: never valid JSON.
    private func truncatedJSON(_ bytes: [UInt8]) -> [UInt8] {
        let last = bytes.lastIndex { ![0x20, 0x0A, 0x0D, 0x09].contains($0) } ?? 0
        return Array(bytes.prefix(rng.int(below: max(last, 1))))
    }

    /// JSON Lines cut inside a record (before its last non-space byte): the last line is broken.
    private func truncatedLine(_ bytes: [UInt8]) -> [UInt8] {
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init).filter { !$0.isEmpty }
        let line = rng.int(below: lines.count)
        let kept = lines[..<line].map { $0 + [0x0A] }.joined()
        let record = lines[line]
        let last = record.lastIndex { ![0x20, 0x0D, 0x09].contains($0) } ?? 0
        return Array(kept) + Array(record.prefix(rng.int(below: max(last, 1))))
    }

    /// A structural character of the JSON (outside strings, or a string's quote) replaced by '#'.
    private func breakJSONSyntax(_ bytes: [UInt8]) -> [UInt8] {
        var structural: [Int] = []
        var inString = false, escaped = false
        for (index, byte) in bytes.enumerated() {
            if inString {
                if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false; structural.append(index) }
            } else if byte == 0x22 {
                inString = true
                structural.append(index)
            } else if [0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C].contains(byte) {
                structural.append(index)
            }
        }
        guard !structural.isEmpty else { return bytes + [0x23] }
        var copy = bytes
        copy[structural[rng.int(below: structural.count)]] = 0x23
        return copy
    }

    private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

/// Where things are in a GGUF file's header: enough to damage chosen fields.
struct GGUFLayout {
    struct Entry {
        let key: String
        let keyOffset: Int
        let typeOffset: Int
        let valueType: UInt32
        /// The u64 length of a string value or an array, if the value has one.
        let lengthOffset: Int?
    }

    struct TensorInfo {
        let name: String
        let rankOffset: Int
        let firstDimensionOffset: Int
        let typeOffset: Int
        let dataOffsetOffset: Int
    }

    var entries: [Entry] = []
    var tensors: [TensorInfo] = []
    var dataStart = 0

    init(_ bytes: [UInt8]) throws {
        var position = 8
        func u32() -> UInt32 { defer { position += 4 }; return bytes[position..<position + 4].withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) } }
        func u64() -> UInt64 { defer { position += 8 }; return bytes[position..<position + 8].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } }
        func string() -> String { let count = Int(u64()); defer { position += count }; return String(decoding: bytes[position..<position + count], as: UTF8.self) }
        func skip(_ type: UInt32) {
            switch type {
            case 0, 1, 7: position += 1
            case 2, 3: position += 2
            case 4, 5, 6: position += 4
            case 10, 11, 12: position += 8
            case 8: _ = string()
            case 9:
                let elementType = u32()
                let count = Int(u64())
                for _ in 0..<count { skip(elementType) }
            default: break
            }
        }
        let tensorCount = Int(u64())
        let entryCount = Int(u64())
        for _ in 0..<entryCount {
            let keyOffset = position
            let key = string()
            let typeOffset = position
            let type = u32()
            let lengthOffset: Int? = type == 8 ? position : type == 9 ? position + 4 : nil
            skip(type)
            entries.append(Entry(key: key, keyOffset: keyOffset, typeOffset: typeOffset, valueType: type, lengthOffset: lengthOffset))
        }
        for _ in 0..<tensorCount {
            let name = string()
            let rankOffset = position
            let rank = Int(u32())
            let firstDimension = position
            position += 8 * rank
            let typeOffset = position
            position += 4
            let dataOffset = position
            position += 8
            tensors.append(TensorInfo(name: name, rankOffset: rankOffset, firstDimensionOffset: firstDimension,
                                      typeOffset: typeOffset, dataOffsetOffset: dataOffset))
        }
        dataStart = (position + 31) / 32 * 32
    }
}

/// The global heap collections of an HDF5 file: where their sizes and their objects' sizes are.
struct GlobalHeaps {
    var collectionSizeOffsets: [Int] = []
    var objectSizeOffsets: [Int] = []

    init(_ bytes: [UInt8]) {
        let signature: [UInt8] = [0x47, 0x43, 0x4F, 0x4C, 0x01, 0x00, 0x00, 0x00]
        var start = 0
        while start + 16 <= bytes.count {
            guard Array(bytes[start..<start + 8]) == signature else { start += 1; continue }
            let size = Int(bytes[start + 8..<start + 16].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
            collectionSizeOffsets.append(start + 8)
            var position = start + 16
            let end = min(start + size, bytes.count)
            while position + 16 <= end {
                let index = bytes[position..<position + 2].withUnsafeBytes { UInt16(littleEndian: $0.loadUnaligned(as: UInt16.self)) }
                let objectSize = Int(bytes[position + 8..<position + 16].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
                if index == 0 { break }
                objectSizeOffsets.append(position + 8)
                position += 16 + (objectSize + 7) / 8 * 8
            }
            start = max(start + 1, end)
        }
    }
}

/// SplitMix64: the same cases on every machine.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(below bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }

    mutating func sample<T>(_ items: [T], _ count: Int) -> [T] {
        var pool = items
        var chosen: [T] = []
        while chosen.count < count, !pool.isEmpty { chosen.append(pool.remove(at: int(below: pool.count))) }
        return chosen
    }
}

private final class OutcomeStore: @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [FuzzTests.Outcome?]

    init(count: Int) { outcomes = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ outcome: FuzzTests.Outcome) { lock.withLock { outcomes[index] = outcome } }

    var all: [FuzzTests.Outcome] { lock.withLock { outcomes.map { $0! } } }
}

private final class NextIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    func take(below count: Int) -> Int? {
        lock.withLock {
            guard next < count else { return nil }
            defer { next += 1 }
            return next
        }
    }
}
