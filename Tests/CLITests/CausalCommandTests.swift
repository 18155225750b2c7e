import Foundation
import ModelFormats
import RunStore
import Transformer
import XCTest

/// `ablate`, `scan` and `trace --dataset` as a user runs them, on the default model.
final class CausalCommandTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var samples: String { CLI.packageRoot.appendingPathComponent("datasets/logic-test.jsonl").path }

    /// The scan's scores through the command line equal transformers' on the same token ids.
    func testScanJSONMatchesTransformers() throws {
        let fixtureURL = CLI.packageRoot.appendingPathComponent("Tests/CausalTests/Fixtures/smollm2.json")
        let fixture = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL)) as? [String: Any])
        let scan = try XCTUnwrap(fixture["scan"] as? [String: Any])
        let sequences = directory.appendingPathComponent("sequences.json")
        try JSONSerialization.data(withJSONObject: try XCTUnwrap(scan["repeated_sequences"])).write(to: sequences)
        let output = directory.appendingPathComponent("induction.h5"), svg = directory.appendingPathComponent("induction.svg")
        let result = try CLI.run(["scan", "--kind", "induction", "--sequences", sequences.path, "--format", "json",
                                  "--output", output.path, "--svg", svg.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let scores = try XCTUnwrap(json["scores"] as? [[Double]])
        let expected = try XCTUnwrap(scan["induction"] as? [[Double]])
        XCTAssertEqual(scores.count, expected.count)
        for (ours, theirs) in zip(scores, expected) {
            XCTAssertEqual(ours.count, theirs.count)
            for (a, b) in zip(ours, theirs) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: output.path))
        XCTAssertTrue(try String(contentsOf: svg, encoding: .utf8).contains("induction scores"))
        // Refuses to overwrite without --force.
        let again = try CLI.run(["scan", "--kind", "induction", "--sequences", sequences.path, "--output", output.path])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("exists"), again.stderr)
    }

    func testScanRejectsBadSequenceFiles() throws {
        for (content, problem) in [("{}", "not a JSON list"), ("[]", "empty"), ("[[1, 2], [3.5]]", "sequence 1"),
                                   ("[[1, -2]]", "sequence 0"), ("[[1, 2, 3]]", "even count"), ("[[1, 99999999, 3, 4]]", "vocabulary")] {
            let file = directory.appendingPathComponent("bad.json")
            try Data(content.utf8).write(to: file)
            let result = try CLI.run(["scan", "--kind", "induction", "--sequences", file.path])
            XCTAssertNotEqual(result.status, 0, content)
            XCTAssertTrue(result.stderr.contains(problem), "\(content): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        }
    }

    func testAblateReportsCleanAblatedAndRandomDraws() throws {
        let output = directory.appendingPathComponent("ablation.h5")
        let result = try CLI.run(["ablate", "--dataset", samples, "--heads", "L3H0,L14H3", "--random-draws", "2", "--seed", "4",
                                  "--limit", "4", "--format", "json", "--output", output.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["heads"] as? [String], ["L3H0", "L14H3"])
        XCTAssertEqual(json["samples"] as? Int, 4)
        let perSample = try XCTUnwrap(json["per_sample"] as? [[String: Any]])
        XCTAssertEqual(perSample.count, 4)
        let random = try XCTUnwrap(json["random"] as? [[String: Any]])
        XCTAssertEqual(random.count, 2)
        for draw in random {
            let heads = try XCTUnwrap(draw["heads"] as? [String])
            XCTAssertEqual(heads.filter { $0.hasPrefix("L3H") }.count, 1)
            XCTAssertEqual(heads.filter { $0.hasPrefix("L14H") }.count, 1)
            XCTAssertFalse(heads.contains("L3H0") || heads.contains("L14H3"))
        }
        // The per-sample logit differences average to the reported mean.
        let clean = try XCTUnwrap(json["clean"] as? [String: Any])
        let differences = perSample.compactMap { $0["clean_logit_diff"] as? Double }
        XCTAssertEqual(differences.count, 4)
        XCTAssertEqual(try XCTUnwrap(clean["mean_logit_diff"] as? Double), differences.reduce(0, +) / 4, accuracy: 1e-9)
        XCTAssertTrue(FileManager.default.fileExists(atPath: output.path))

        let table = try CLI.run(["ablate", "--dataset", samples, "--heads", "L3H0", "--limit", "2", "--method", "query-zero"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("heads off"), table.stdout)
    }

    /// `ablate` and `trace --dataset` choose rows as `probe` does: --limit warns when the first
    /// rows carry one label, --sample draws a stratified, seeded sample.
    func testAblateAndTraceChooseRowsAsProbeDoes() throws {
        let lines = try String(contentsOfFile: samples, encoding: .utf8).split(separator: "\n")
        let labelled = try lines.map { line in (line, try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])["label"] as? Int) }
        let ordered = labelled.filter { $0.1 == 0 }.prefix(3) + labelled.filter { $0.1 == 1 }.prefix(3)
        let dataset = directory.appendingPathComponent("true-first.jsonl")
        try (ordered.map { String($0.0) }.joined(separator: "\n") + "\n").write(to: dataset, atomically: true, encoding: .utf8)

        let first = try CLI.run(["ablate", "--dataset", dataset.path, "--heads", "L3H0", "--limit", "2", "--format", "json"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("warning: \(dataset.path): the first 2 samples all have the label"), first.stderr)
        func labels(_ result: CLIResult) throws -> [Int] {
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            return try XCTUnwrap(json["per_sample"] as? [[String: Any]]).compactMap { $0["label"] as? Int }
        }
        XCTAssertEqual(try labels(first), [0, 0])
        let sampled = try CLI.run(["ablate", "--dataset", dataset.path, "--heads", "L3H0", "--sample", "2", "--seed", "3", "--format", "json"])
        XCTAssertEqual(sampled.status, 0, sampled.stderr)
        XCTAssertFalse(sampled.stderr.contains("warning"), sampled.stderr)
        XCTAssertEqual(try labels(sampled).sorted(), [0, 1])
        let both = try CLI.run(["ablate", "--dataset", dataset.path, "--heads", "L3H0", "--sample", "2", "--limit", "2"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("--limit and --sample exclude each other"), both.stderr)

        let trace = try CLI.run(["trace", "--dataset", dataset.path, "--sample", "4", "--seed", "3", "--hook", "hook_embed",
                                 "--output", directory.appendingPathComponent("trace.h5").path])
        XCTAssertEqual(trace.status, 0, trace.stderr)
        XCTAssertTrue(trace.stdout.contains("4 samples"), trace.stdout)
    }

    func testAblateRejectsBadHeads() throws {
        for (arguments, problem) in [(["--heads", "L3X5"], "not a head"), (["--heads", "L99H0"], "no head L99H0"),
                                     (["--heads", "L3H0,L3H0"], "twice"), (["--heads-from", "missing.json", "--top", "3"], "missing.json"),
                                     (["--heads-from", "x.json"], "--top")] {
            let result = try CLI.run(["ablate", "--dataset", samples, "--limit", "1"] + arguments)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertTrue(result.stderr.contains(problem), "\(arguments): \(result.stderr)")
        }
    }

    func testTraceDatasetWritesEveryRow() throws {
        let output = directory.appendingPathComponent("trace.h5")
        let result = try CLI.run(["trace", "--dataset", samples, "--limit", "3", "--hook", "blocks.2.attn.hook_rot_q",
                                  "--hook", "blocks.2.hook_resid_post", "--positions", "anchor,options,last", "--output", output.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("3 samples × 4 positions of 2 hooks"), result.stdout)
        let pattern = try CLI.run(["trace", "--dataset", samples, "--hook", "blocks.2.attn.hook_pattern", "--output", output.path, "--force"])
        XCTAssertNotEqual(pattern.status, 0)
        XCTAssertTrue(pattern.stderr.contains("trace it with --prompt"), pattern.stderr)
        let bad = try CLI.run(["trace", "--dataset", samples, "--hook", "hook_embed", "--positions", "anchor,middle", "--output", output.path, "--force"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("'middle'"), bad.stderr)
    }

    /// What `trace --dataset` writes reads back: the shapes and named axes of every dataset, the
    /// samples in dataset order, and at every slot the values a direct forward pass of the stored
    /// tokens gives for that hook (the anchor and last slots from the prompt alone, option o from
    /// the prompt with its token appended). Not bit for bit: the trace runs the options as
    /// branches of one pass, the direct read one pass each, so the matrix shapes differ.
    func testTraceDatasetReadsBackAsADirectHookRead() throws {
        let output = directory.appendingPathComponent("trace.h5")
        let hookNames = ["blocks.2.attn.hook_rot_q", "blocks.2.attn.hook_k", "blocks.5.hook_resid_post"]
        let count = 3
        let result = try CLI.run(["trace", "--dataset", samples, "--limit", String(count), "--positions", "anchor,options,last",
                                  "--output", output.path] + hookNames.flatMap { ["--hook", $0] })
        XCTAssertEqual(result.status, 0, result.stderr)

        let model = try Transformer(path: DefaultModel.resolve().path)
        let c = model.config
        let file = try ResultFileReader(url: output)
        let slots = ["anchor", "option 0", "option 1", "last"]
        XCTAssertEqual(try file.strings("/slots"), slots)
        XCTAssertEqual(try file.dimensions("/slots"), ["slot"])

        let lines = try String(contentsOfFile: samples, encoding: .utf8).split(separator: "\n").prefix(count)
        let rows = try lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(try file.strings("/samples/id"), rows.map { $0["id"] as? String ?? "" })
        XCTAssertEqual(try file.dimensions("/samples/id"), ["sample"])
        XCTAssertEqual(try file.numbers("/samples/complete").values, [Double](repeating: 1, count: count))

        // The stored tokens are the dataset's prompts and options as `qkprobe tokenize` gives them.
        let tokens = try file.int32Sequences("/samples/token_ids").map { $0.map(Int.init) }
        XCTAssertEqual(tokens.count, count)
        for (row, sample) in zip(tokens, rows) {
            XCTAssertEqual(row, try tokenIDs(of: try XCTUnwrap(sample["prompt"] as? String)))
        }
        let options = try file.numbers("/samples/option_ids")
        XCTAssertEqual(options.shape, [count, 2])
        XCTAssertEqual(try file.dimensions("/samples/option_ids"), ["sample", "option"])
        let trueID = try tokenIDs(of: " True"), falseID = try tokenIDs(of: " False")
        XCTAssertEqual(trueID.count, 1)
        XCTAssertEqual(options.values.map { Int($0) }, (0 ..< count).flatMap { _ in trueID + falseID })
        XCTAssertEqual(try file.numbers("/samples/n_tokens").values.map { Int($0) }, tokens.map(\.count))

        let positions = try file.numbers("/samples/positions")
        XCTAssertEqual(positions.shape, [count, slots.count])
        XCTAssertEqual(try file.dimensions("/samples/positions"), ["sample", "slot"])

        let expected: [String: (shape: [Int], dimensions: [String])] = [
            "blocks.2.attn.hook_rot_q": ([c.nHeads, c.dHead], ["head", "d_head"]),
            "blocks.2.attn.hook_k": ([c.nKVHeads, c.dHead], ["kv_head", "d_head"]),
            "blocks.5.hook_resid_post": ([c.dModel], ["d_model"]),
        ]
        let hooks = try model.hooks(matching: hookNames)
        XCTAssertEqual(hooks.count, hookNames.count)
        var compared = 0
        for name in hookNames {
            let stored = try file.floats("/activations/\(name)")
            let (rowShape, rowDimensions) = try XCTUnwrap(expected[name])
            XCTAssertEqual(stored.shape, [count, slots.count] + rowShape, name)
            XCTAssertEqual(try file.dimensions("/activations/\(name)"), ["sample", "slot"] + rowDimensions, name)
            XCTAssertFalse(stored.values.contains { $0.isNaN }, name)
        }
        for (n, prompt) in tokens.enumerated() {
            let slotPositions = (0 ..< slots.count).map { Int(positions.values[n * slots.count + $0]) }
            let anchor = slotPositions[0]
            // The anchor is the token just before the cue "Answer:", the prompt's last newline.
            let newline = try tokenIDs(of: "\n")
            XCTAssertEqual(newline.count, 1)
            XCTAssertEqual(prompt[anchor], newline[0])
            XCTAssertEqual(prompt.lastIndex(of: newline[0]), anchor)
            XCTAssertEqual(Array(slotPositions.dropFirst()), [prompt.count, prompt.count + 1, prompt.count - 1])
            let clean = try model.forward(prompt, logits: .none, capture: HookCapture(hooks))
            let branches = try [trueID[0], falseID[0]].map {
                try model.forward(prompt + [$0], logits: .none, capture: HookCapture(hooks, positions: [prompt.count]))
            }
            for name in hookNames {
                let hook = try XCTUnwrap(hooks.first { $0.description == name })
                let stored = try file.floats("/activations/\(name)")
                let width = stored.shape.dropFirst(2).reduce(1, *)
                let direct = [try XCTUnwrap(clean[hook]?.row(at: anchor)),
                              try XCTUnwrap(branches[0][hook]?.row(at: prompt.count)),
                              try XCTUnwrap(branches[1][hook]?.row(at: prompt.count)),
                              try XCTUnwrap(clean[hook]?.row(at: prompt.count - 1))]
                for (slot, values) in direct.enumerated() {
                    let start = (n * slots.count + slot) * width
                    let traced = stored.values[start ..< start + width]
                    XCTAssertEqual(values.count, width)
                    let scale = max(1, values.map { abs($0) }.max() ?? 0)
                    let worst = zip(traced, values).map { abs($0 - $1) }.max() ?? .infinity
                    XCTAssertLessThanOrEqual(worst, 1e-5 * scale, "\(name), sample \(n), \(slots[slot])")
                    compared += 1
                }
            }
        }
        XCTAssertEqual(compared, count * slots.count * hookNames.count)
    }

    /// `qkprobe tokenize --format json TEXT`'s ids.
    private func tokenIDs(of text: String) throws -> [Int] {
        let result = try CLI.run(["tokenize", "--format", "json", text])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        if let ids = object as? [Int] { return ids }
        return try XCTUnwrap((object as? [String: Any])?["ids"] as? [Int], result.stdout)
    }

    /// A probe of the first samples of the bundled test set and `select`'s file naming its best
    /// `top` heads; returns the selection file and those heads' names, best first.
    private func selection(top: Int) throws -> (path: String, heads: [String]) {
        let run = directory.appendingPathComponent("run.h5").path, path = directory.appendingPathComponent("selection.json").path
        let probe = try CLI.run(["probe", "--dataset", samples, "--limit", "16", "--output", run])
        XCTAssertEqual(probe.status, 0, probe.stderr)
        let select = try CLI.run(["select", "--calibration", run, "--top-k", String(top), "--output", path])
        XCTAssertEqual(select.status, 0, select.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let choices = try XCTUnwrap(object["choices"] as? [[String: Any]])
        let heads = try XCTUnwrap(choices.first?["heads"] as? [[String: Any]])
        let ranked = try heads.map { head -> (rank: Int, name: String) in
            let layer = try XCTUnwrap(head["layer"] as? Int), index = try XCTUnwrap(head["head"] as? Int)
            return (try XCTUnwrap(head["rank"] as? Int), "L\(layer)H\(index)")
        }.sorted { $0.rank < $1.rank }
        XCTAssertGreaterThanOrEqual(ranked.count, top)
        return (path, ranked.prefix(top).map(\.name))
    }

    /// The heatmap of a scan outlines exactly the selection's best heads, each cell titled with its
    /// score as the scan file holds it.
    func testPlotOutlinesTheSelectedHeadsOnAScan() throws {
        let (selectionFile, selected) = try selection(top: 3)
        let scan = directory.appendingPathComponent("scan.h5").path, svg = directory.appendingPathComponent("scan.svg").path
        let scanned = try CLI.run(["scan", "--kind", "previous-token", "--count", "2", "--length", "8", "--output", scan])
        XCTAssertEqual(scanned.status, 0, scanned.stderr)
        let plotted = try CLI.run(["plot", scan, "--heads-from", selectionFile, "--top", "3", "-o", svg])
        XCTAssertEqual(plotted.status, 0, plotted.stderr)
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        let scores = try ResultFileReader(url: URL(fileURLWithPath: scan)).numbers("/scores")
        let heads = scores.shape[1]
        var outlined: [String] = []
        var cells = 0
        for line in text.split(separator: "\n") where line.hasPrefix("<rect") && line.contains("<title>L") {
            cells += 1
            let title = try XCTUnwrap(line.split(separator: "<title>").last?.split(separator: "</title>").first)
            let parts = title.split(separator: ":")
            let name = String(parts[0])
            let layerHead = name.dropFirst().split(separator: "H").compactMap { Int($0) }
            XCTAssertEqual(String(parts[1].dropFirst()), String(format: "%.4f", scores.values[layerHead[0] * heads + layerHead[1]]), name)
            if line.contains("stroke=\"black\" stroke-width=\"2\"") { outlined.append(name) }
        }
        XCTAssertEqual(cells, scores.values.count)
        XCTAssertEqual(Set(outlined), Set(selected))
        XCTAssertEqual(outlined.count, 3)
        XCTAssertTrue(text.contains("outlined: top 3 QK heads"), text)

        // A selection naming heads the scanned model lacks, a probe run with --heads-from, and more
        // heads than the selection kept: one-line errors.
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: selectionFile))) as? [String: Any])
        var choices = try XCTUnwrap(object["choices"] as? [[String: Any]])
        var first = try XCTUnwrap(choices[0]["heads"] as? [[String: Any]])
        for index in first.indices { first[index]["layer"] = 99 }
        choices[0]["heads"] = first
        object["choices"] = choices
        let foreign = directory.appendingPathComponent("foreign.json").path
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: foreign))
        for (arguments, problem) in [([scan, "--heads-from", foreign, "--top", "3"], "outside the scan"),
                                     ([directory.appendingPathComponent("run.h5").path, "--heads-from", selectionFile], "not a run file"),
                                     ([scan, "--heads-from", selectionFile, "--top", "4"], "--top 4")] {
            let refused = try CLI.run(["plot"] + arguments + ["-o", directory.appendingPathComponent("x.svg").path])
            XCTAssertNotEqual(refused.status, 0, "\(arguments)")
            XCTAssertTrue(refused.stderr.contains(problem), "\(arguments): \(refused.stderr)")
            XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)
        }
    }

    /// The ablation chart names the selection's heads, and draws clean, heads-off and every random
    /// draw at the values `ablate` reported.
    func testPlotDrawsAnAblationOfTheSelectedHeadsAgainstRandomDraws() throws {
        let (selectionFile, selected) = try selection(top: 2)
        let ablation = directory.appendingPathComponent("ablation.h5").path, svg = directory.appendingPathComponent("ablation.svg").path
        let ablated = try CLI.run(["ablate", "--dataset", samples, "--heads-from", selectionFile, "--top", "2", "--random-draws", "3",
                                   "--seed", "2", "--limit", "6", "--format", "json", "--output", ablation])
        XCTAssertEqual(ablated.status, 0, ablated.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(ablated.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["heads"] as? [String], selected)
        let plotted = try CLI.run(["plot", ablation, "-o", svg])
        XCTAssertEqual(plotted.status, 0, plotted.stderr)
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertTrue(text.contains("zero ablation of \(selected.joined(separator: ","))"), text)
        XCTAssertEqual(text.components(separatedBy: "random (3)").count - 1, 2)

        func circleValues(radius: String) -> [String] {
            text.split(separator: "\n").filter { $0.hasPrefix("<circle") && $0.contains("r=\"\(radius)\"") }.compactMap {
                $0.split(separator: "<title>").last?.split(separator: "</title>").first.map(String.init)
            }
        }
        let clean = try XCTUnwrap(json["clean"] as? [String: Any]), off = try XCTUnwrap(json["ablated"] as? [String: Any])
        let random = try XCTUnwrap(json["random"] as? [[String: Any]])
        func formatted(_ summary: [String: Any], _ key: String) -> String { String(format: "%.4f", summary[key] as? Double ?? .nan) }
        // Per panel (accuracy, then mean logit difference): clean and heads-off, then the draws.
        XCTAssertEqual(circleValues(radius: "5"), ["accuracy", "mean_logit_diff"].flatMap { [formatted(clean, $0), formatted(off, $0)] })
        XCTAssertEqual(circleValues(radius: "3.5"), ["accuracy", "mean_logit_diff"].flatMap { key in random.map { formatted($0, key) } })

        let refused = try CLI.run(["plot", ablation, "--heads-from", selectionFile, "-o", svg])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("names its own heads"), refused.stderr)
    }
}
