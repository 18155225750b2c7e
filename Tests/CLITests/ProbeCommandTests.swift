import Foundation
import LogicTasks
import Reports
import RunStore
import XCTest

/// `qkprobe probe`, `heads` and `plot` end to end on the default model.
final class ProbeCommandTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var probeFixtures: URL { CLI.packageRoot.appendingPathComponent("Tests/ProbeTests/Fixtures") }
    private var calibrationSet: String { CLI.packageRoot.appendingPathComponent("datasets/logic-calibration.jsonl").path }

    private var mixedSamples: URL { probeFixtures.appendingPathComponent("probe-samples.jsonl") }

    private struct Reference: Decodable {
        struct Sample: Decodable {
            let id: String
            let token_ids: [Int]
            let anchor: Int
            let anchor_question_end: Int
            let option_ids: [Int]
            let option_logits: [Float]
            let qk_pre: [[[Float]]]
            let qk_pre_question_end: [[[Float]]]
        }
        let samples: [Sample]
    }

    private func reference() throws -> [String: Reference.Sample] {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: probeFixtures.appendingPathComponent("probe-reference.json")))
        return Dictionary(uniqueKeysWithValues: reference.samples.map { ($0.id, $0) })
    }

    /// The fixture mixes True/False (PARARULE-Plus, ProntoQA) and yes/no (Multi-LogiEval) samples:
    /// one run holds them all, each with its own options, under both anchor rules.
    func testRunFileScoresMatchTransformersReference() throws {
        let expected = try reference()
        let lines = try String(contentsOf: mixedSamples, encoding: .utf8).split(separator: "\n")
        let options = try lines.map { try XCTUnwrap((JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["options"] as? [String]) }
        XCTAssertGreaterThan(Set(options).count, 1, "the fixture mixes option sets")
        for rule in ["before-cue", "question-end"] {
            let output = directory.appendingPathComponent("run-\(rule).h5")
            let result = try CLI.run(["probe", "--dataset", mixedSamples.path, "-o", output.path, "--anchor", rule,
                                      "--save-activations", "--format", "json"])
            XCTAssertEqual(result.status, 0, result.stderr)
            let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(summary["samples"] as? Int, lines.count)
            XCTAssertEqual(summary["computed"] as? Int, lines.count)
            let run = try RunReader(url: output)
            XCTAssertEqual(run.complete, Array(repeating: true, count: lines.count))
            XCTAssertEqual(run.header.qkRope, .pre)
            XCTAssertEqual(run.header.qkScale, 1)
            XCTAssertEqual(run.header.anchorRule, rule)
            XCTAssertEqual(run.header.answerCue, "Answer:")
            // Each position's distinct texts in order of first appearance, joined by "|".
            let joined = (0..<2).map { o in options.map { $0[o] }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.joined(separator: "|") }
            XCTAssertEqual(run.options, joined)
            for (row, sample) in run.samples.enumerated() {
                let want = try XCTUnwrap(expected[sample.id])
                XCTAssertEqual(sample.tokenIDs.map(Int.init), want.token_ids)
                XCTAssertEqual(sample.anchor, rule == "before-cue" ? want.anchor : want.anchor_question_end)
                XCTAssertEqual(sample.options, options[row])
                XCTAssertEqual(sample.optionIDs.map(Int.init), want.option_ids)
                let scores = run.scores(sample: row)
                for (o, perLayer) in (rule == "before-cue" ? want.qk_pre : want.qk_pre_question_end).enumerated() {
                    for (l, perHead) in perLayer.enumerated() {
                        for (h, value) in perHead.enumerated() {
                            let got = scores[scores.startIndex + run.shape.scoreIndex(option: o, layer: l, head: h)]
                            XCTAssertEqual(got, value, accuracy: 2e-3 + 1e-4 * abs(value), "\(sample.id) o\(o) L\(l)H\(h)")
                        }
                    }
                    XCTAssertEqual(run.modelLogits[row * 2 + o], want.option_logits[o], accuracy: 1e-3 + 1e-4 * abs(want.option_logits[o]))
                }
            }
            let check = try CLI.runProcess("/usr/bin/env", ["python3", CLI.packageRoot.appendingPathComponent("scripts/check_runfile.py").path, output.path])
            XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
            XCTAssertTrue(check.stdout.contains("scores recomputed from activations"), check.stdout)
            let heads = try CLI.run(["heads", output.path, "--top", "3"])
            XCTAssertEqual(heads.status, 0, heads.stderr)
            XCTAssertTrue(heads.stdout.contains("anchor \(rule) \"Answer:\""), heads.stdout)
        }
    }

    func testAnswerCueAndMissingCue() throws {
        let dataset = directory.appendingPathComponent("a.jsonl")
        try Data(#"{"id":"a","prompt":"Max is red. Is Max red?\nA:","options":[" yes"," no"],"label":0}"#.utf8).write(to: dataset)
        let refused = try CLI.run(["probe", "--dataset", dataset.path, "-o", directory.appendingPathComponent("x.h5").path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("sample a") && refused.stderr.contains("\"Answer:\""), refused.stderr)
        let output = directory.appendingPathComponent("a.h5")
        let result = try CLI.run(["probe", "--dataset", dataset.path, "-o", output.path, "--answer-cue", "A:"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let run = try RunReader(url: output)
        XCTAssertEqual(run.header.answerCue, "A:")
        let sample = run.samples[0]
        XCTAssertEqual(sample.anchor, sample.tokenIDs.count - 3, "the newline before \"A\" \":\"")
    }

    /// --chat and --shots: the run records them, every sample's demonstrations are label-balanced
    /// and never the sample itself, and the same seed gives the same file's prompts.
    func testChatAndShotsAreRecorded() throws {
        let output = directory.appendingPathComponent("chat.h5")
        let arguments = ["probe", "--dataset", mixedSamples.path, "--limit", "4", "--chat", "--shots", "2",
                         "--shots-from", calibrationSet, "--seed", "5"]
        let result = try CLI.run(arguments + ["-o", output.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let run = try RunReader(url: output)
        XCTAssertEqual(run.header.chatTemplate, "chatml")
        XCTAssertEqual(run.header.shots, 2)
        XCTAssertEqual(run.header.shotsSeed, 5)
        XCTAssertEqual(run.header.shotsDataset, "logic-calibration")
        XCTAssertEqual(run.header.shotsSHA256.count, 64)
        let calibration = try String(contentsOfFile: calibrationSet, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let labels = Dictionary(uniqueKeysWithValues: calibration.map { ($0["id"] as! String, $0["label"] as! Int) })
        for sample in run.samples {
            XCTAssertEqual(sample.shotIDs.count, 2)
            XCTAssertFalse(sample.shotIDs.contains(sample.id))
            XCTAssertEqual(Set(sample.shotIDs.compactMap { labels[$0] }), [0, 1], "one demonstration per label")
        }
        let check = try CLI.runProcess("/usr/bin/env", ["python3", CLI.packageRoot.appendingPathComponent("scripts/check_runfile.py").path, output.path])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        let again = directory.appendingPathComponent("again.h5")
        XCTAssertEqual(try CLI.run(arguments + ["-o", again.path]).status, 0)
        XCTAssertEqual(try RunReader(url: again).samples, run.samples, "seeded: the same prompts")
        let refused = try CLI.run(["probe", "--dataset", mixedSamples.path, "--shots", "2", "-o", directory.appendingPathComponent("x.h5").path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--shots-from"), refused.stderr)
    }

    /// The MCQA geometry from the command line: a generated task, one run, its keys recorded.
    func testMultipleChoiceGeometry() throws {
        let task = directory.appendingPathComponent("mcqa.jsonl")
        let generated = try CLI.run(["dataset", "mcqa", "--count", "6", "--seed", "3", "-o", task.path])
        XCTAssertEqual(generated.status, 0, generated.stderr)
        let output = directory.appendingPathComponent("mcqa.h5")
        let result = try CLI.run(["probe", "--dataset", task.path, "--geometry", "mcqa", "--mcqa-key", "letter", "-o", output.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let run = try RunReader(url: output)
        XCTAssertEqual(run.header.geometry, "mcqa")
        XCTAssertEqual(run.header.mcqaKey, "letter")
        XCTAssertEqual(run.options, [" A", " B", " C", " D"])
        for sample in run.samples {
            XCTAssertEqual(sample.anchor, sample.tokenIDs.count - 1, "the query is the last token")
            XCTAssertEqual(sample.keyPositions.count, 4)
            XCTAssertEqual(sample.keyPositions, sample.keyPositions.sorted())
        }
        let check = try CLI.runProcess("/usr/bin/env", ["python3", CLI.packageRoot.appendingPathComponent("scripts/check_runfile.py").path, output.path])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        let refused = try CLI.run(["probe", "--dataset", task.path, "--geometry", "mcqa", "--save-activations", "-o", directory.appendingPathComponent("x.h5").path])
        XCTAssertNotEqual(refused.status, 0)
    }

    /// `--sample` takes the library's seeded stratified sample and records it; `--limit` keeps
    /// the first rows and warns when they all carry one label.
    func testSampleIsStratifiedSeededAndRecordedAndLimitWarns() throws {
        let output = directory.appendingPathComponent("sample.h5")
        let result = try CLI.run(["probe", "--dataset", calibrationSet, "-o", output.path, "--sample", "6", "--seed", "9"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let run = try RunReader(url: output)
        XCTAssertEqual(run.header.sampleSelection, "stratified sample of 6 over label x steps x distractors x family, seed 9")
        XCTAssertEqual(run.header.qkScaleSetting, "none")
        XCTAssertEqual(run.header.optionTokenPolicy, "exact")
        let dataset = try DatasetFormat.prompts.load(URL(fileURLWithPath: calibrationSet))
        let chosen = dataset.stratifiedSample(6, seed: 9).indices.map { dataset.samples[$0].id }
        XCTAssertEqual(run.samples.map(\.id), chosen)
        XCTAssertNotEqual(chosen, dataset.samples.prefix(6).map(\.id))
        // Each row keeps its source group (the generator's family), and heads breaks down by it.
        let families = chosen.map { id in dataset.samples.first { $0.id == id }!.sourceGroup }
        XCTAssertEqual(run.samples.map(\.group), families)
        XCTAssertTrue(families.allSatisfy { $0.hasPrefix("family=") }, "\(families)")
        let byGroup = try CLI.run(["heads", output.path, "--by", "group", "--top", "2"])
        XCTAssertEqual(byGroup.status, 0, byGroup.stderr)
        for family in Set(families) { XCTAssertTrue(byGroup.stdout.contains(family), byGroup.stdout) }

        let lines = ["{\"id\":\"a\",\"prompt\":\"Max is red. Is Max red?\\nAnswer:\",\"options\":[\" True\",\" False\"],\"label\":0}",
                     "{\"id\":\"b\",\"prompt\":\"Max is red. Is Max red?\\nAnswer:\",\"options\":[\" True\",\" False\"],\"label\":0}",
                     "{\"id\":\"c\",\"prompt\":\"Max is red. Is Max blue?\\nAnswer:\",\"options\":[\" True\",\" False\"],\"label\":1}"]
        let oneLabelFirst = directory.appendingPathComponent("one-label-first.jsonl")
        try Data(lines.joined(separator: "\n").utf8).write(to: oneLabelFirst)
        let limited = try CLI.run(["probe", "--dataset", oneLabelFirst.path, "-o", directory.appendingPathComponent("l.h5").path, "--limit", "2"])
        XCTAssertEqual(limited.status, 0, limited.stderr)
        XCTAssertTrue(limited.stderr.contains("warning: \(oneLabelFirst.path): the first 2 samples all have the label \" True\""), limited.stderr)
        XCTAssertEqual(try RunReader(url: directory.appendingPathComponent("l.h5")).header.sampleSelection, "the first 2 rows")
        let both = try CLI.run(["probe", "--dataset", oneLabelFirst.path, "-o", directory.appendingPathComponent("x.h5").path, "--limit", "2", "--sample", "2"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("--limit and --sample exclude each other"), both.stderr)
    }

    func testKilledRunsResumeToTheUninterruptedResult() throws {
        let whole = directory.appendingPathComponent("whole.h5")
        let common = ["probe", "--dataset", calibrationSet, "--limit", "120"]
        XCTAssertEqual(try CLI.run(common + ["-o", whole.path]).status, 0)
        let reference = try RunReader(url: whole)

        let killed = directory.appendingPathComponent("killed.h5")
        var generator = SystemRandomNumberGenerator()
        var survivors: [Int] = []
        for attempt in 0..<4 {
            let process = try CLI.start(common + ["-o", killed.path] + (attempt == 0 ? [] : ["--resume"]))
            Thread.sleep(forTimeInterval: Double.random(in: 0.3...2.5, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            guard FileManager.default.fileExists(atPath: killed.path) else { survivors.append(-1); continue }
            let partial = try RunReader(url: killed)
            survivors.append(partial.complete.filter { $0 }.count)
            for row in partial.complete.indices where partial.complete[row] {
                XCTAssertEqual(Array(partial.scores(sample: row)), Array(reference.scores(sample: row)), "row \(row) after kill \(attempt)")
            }
        }
        let finish = try CLI.run(common + ["-o", killed.path, "--resume"])
        XCTAssertEqual(finish.status, 0, finish.stderr)
        let resumed = try RunReader(url: killed)
        XCTAssertEqual(resumed.complete, reference.complete)
        XCTAssertEqual(resumed.qk.map(\.bitPattern), reference.qk.map(\.bitPattern))
        XCTAssertEqual(resumed.modelLogits.map(\.bitPattern), reference.modelLogits.map(\.bitPattern))
        XCTAssertEqual(resumed.headTables?.accuracy.map(\.bitPattern), reference.headTables?.accuracy.map(\.bitPattern))
        print("rows complete after each kill: \(survivors)")
    }

    func testResumeTakesTheRunsThreadCount() throws {
        let output = directory.appendingPathComponent("one-thread.h5")
        let args = ["probe", "--dataset", calibrationSet, "--limit", "2", "-o", output.path]
        XCTAssertEqual(try CLI.run(args + ["--threads", "1"]).status, 0)
        XCTAssertEqual(try CLI.run(args + ["--resume"]).status, 0, "a resume without --threads uses the run's")
        let other = try CLI.run(args + ["--resume", "--threads", "3"])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.stderr.contains("threads"), other.stderr)
        XCTAssertEqual(try RunReader(url: output).header.threads, 1)
    }

    func testExistingOutputIsKeptUnlessResumedOrForced() throws {
        let output = directory.appendingPathComponent("run.h5")
        let args = ["probe", "--dataset", calibrationSet, "--limit", "2", "-o", output.path]
        XCTAssertEqual(try CLI.run(args).status, 0)
        let before = try Data(contentsOf: output)
        let again = try CLI.run(args)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("already exists"), again.stderr)
        let otherSettings = try CLI.run(args + ["--resume", "--rope", "post"])
        XCTAssertNotEqual(otherSettings.status, 0)
        XCTAssertTrue(otherSettings.stderr.contains("qk_rope"), otherSettings.stderr)
        XCTAssertEqual(try Data(contentsOf: output), before)
        XCTAssertEqual(try CLI.run(args + ["--force", "--rope", "post"]).status, 0)
        XCTAssertEqual(try RunReader(url: output).header.qkRope, .post)
    }

    func testBadDatasetLineAndMissingOptionTokenAreOneLineErrors() throws {
        let broken = directory.appendingPathComponent("broken.jsonl")
        try Data("{\"id\":\"a\",\"prompt\":\"Q\\nAnswer:\",\"options\":[\" True\",\" False\"],\"label\":0}\n{\"id\":\"b\",\"prompt\":\n".utf8).write(to: broken)
        let bad = try CLI.run(["probe", "--dataset", broken.path, "-o", directory.appendingPathComponent("x.h5").path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("broken.jsonl:2"), bad.stderr)
        XCTAssertEqual(bad.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, bad.stderr)

        let multiToken = directory.appendingPathComponent("multi.jsonl")
        try Data("{\"id\":\"a\",\"prompt\":\"Q?\\nAnswer:\",\"options\":[\" Wumpusly\",\" no\"],\"label\":0}\n".utf8).write(to: multiToken)
        let split = try CLI.run(["probe", "--dataset", multiToken.path, "-o", directory.appendingPathComponent("y.h5").path])
        XCTAssertNotEqual(split.status, 0)
        XCTAssertTrue(split.stderr.contains("Wumpusly"), split.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("y.h5").path))
    }

    func testPromptLongerThanTheContextIsRefusedBeforeAnythingIsWritten() throws {
        let tinyLlama = CLI.packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/tiny-llama").path
        let long = directory.appendingPathComponent("long.jsonl")
        let prompt = String(repeating: "Every wumpus is a tumpus. ", count: 60) + "\nQuestion: True or false: Max is red.\nAnswer:"
        let line = try JSONSerialization.data(withJSONObject: ["id": "long", "prompt": prompt, "options": [" True", " False"], "label": 0])
        try (line + Data("\n".utf8)).write(to: long)
        let output = directory.appendingPathComponent("long.h5")
        let result = try CLI.run(["probe", "--model", tinyLlama, "--dataset", long.path, "-o", output.path, "--option-token", "first"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("sample long:") && result.stderr.contains("exceed the model's context of 128"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
    }

    func testOtherArchitecturesProbeAndGPT2RefusesPostRotary() throws {
        let dataset = directory.appendingPathComponent("one.jsonl")
        try Data("{\"id\":\"a\",\"prompt\":\"Max is red.\\nQuestion: True or false: Max is red.\\nAnswer:\",\"options\":[\" True\",\" False\"],\"label\":0}\n".utf8).write(to: dataset)
        for family in ["tiny-qwen2", "tiny-qwen3", "tiny-gpt2"] {
            let model = CLI.packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/\(family)").path
            let output = directory.appendingPathComponent("\(family).h5")
            let result = try CLI.run(["probe", "--model", model, "--dataset", dataset.path, "-o", output.path, "--option-token", "first"])
            XCTAssertEqual(result.status, 0, "\(family): \(result.stderr)")
            let run = try RunReader(url: output)
            XCTAssertEqual(run.complete, [true], family)
            XCTAssertEqual(run.header.architecture, family.replacingOccurrences(of: "tiny-", with: ""))
            XCTAssertTrue(run.qk.allSatisfy(\.isFinite), family)
        }
        let gpt2 = CLI.packageRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/tiny-gpt2").path
        let post = directory.appendingPathComponent("post.h5")
        let refused = try CLI.run(["probe", "--model", gpt2, "--dataset", dataset.path, "-o", post.path, "--option-token", "first", "--rope", "post"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("no rotary embedding"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: post.path))
    }

    func testHeadsJSONAndPlotDescribeTheRun() throws {
        let output = directory.appendingPathComponent("run.h5")
        XCTAssertEqual(try CLI.run(["probe", "--dataset", calibrationSet, "--limit", "6", "-o", output.path]).status, 0)
        let heads = try CLI.run(["heads", output.path, "--format", "json", "--top", "3"])
        XCTAssertEqual(heads.status, 0, heads.stderr)
        let document = try HeadTableDocument.decode(from: Data(heads.stdout.utf8))
        let run = try RunReader(url: output)
        XCTAssertEqual(document.nLabelled, 6)
        XCTAssertEqual(document.layers, 30)
        XCTAssertEqual(document.heads, 9)
        XCTAssertEqual(document.top.count, 3)
        XCTAssertEqual(document.accuracy.flatMap { $0 }.map { $0.map(Float.init) }, run.headTables?.accuracy.map { Optional($0) })
        XCTAssertEqual(document.baseline.map(Float.init), run.headTables?.baselineAccuracy)

        let svg = directory.appendingPathComponent("heads.svg")
        let plot = try CLI.run(["plot", output.path, "-o", svg.path])
        XCTAssertEqual(plot.status, 0, plot.stderr)
        let text = try String(contentsOf: svg, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("<svg"))
        XCTAssertEqual(text.components(separatedBy: "<title>L").count - 1, 30 * 9)

        let missing = try CLI.run(["heads", directory.appendingPathComponent("none.h5").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("none.h5"), missing.stderr)
    }

    func testTokenizeJSONMatchesTransformersTokens() throws {
        let lines = try String(contentsOf: probeFixtures.appendingPathComponent("probe-samples.jsonl"), encoding: .utf8).split(separator: "\n")
        struct Reference: Decodable { struct Sample: Decodable { let token_ids: [Int] }; let samples: [Sample] }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: probeFixtures.appendingPathComponent("probe-reference.json")))
        for (line, expected) in zip(lines, reference.samples).prefix(3) {
            let prompt = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["prompt"] as? String)
            let result = try CLI.run(["tokenize", "--format", "json", prompt])
            XCTAssertEqual(result.status, 0, result.stderr)
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(object["ids"] as? [Int], expected.token_ids)
            XCTAssertEqual((object["tokens"] as? [String])?.count, expected.token_ids.count)
        }
    }
}
