import Foundation
import RunStore
import XCTest

/// A two-option run of one layer, written by hand: on sample n head i scores 1 for option
/// `choices[n][i]` and 0 for the other, and the model's logits favour `model[n]`.
func writeHandBuiltRun(to url: URL, labels: [Int], choices: [[Int]], model: [Int],
                       modelSHA256: String = String(repeating: "ab", count: 32)) throws {
    let header = RunHeader(
        toolVersion: "0.1.0-test", modelName: "hand-built", modelPath: "/models/hand.gguf", modelSHA256: modelSHA256,
        architecture: "llama", nLayers: 1, nHeads: choices[0].count, nKVHeads: 1, dHead: 4,
        datasetName: url.lastPathComponent, datasetSHA256: "", template: "{question}\nAnswer:", qkRope: .pre, qkScale: 1,
        threads: 1)
    let samples = labels.enumerated().map { n, label in
        SampleInfo(id: "s\(n)", label: label, steps: 1 + n % 3, distractors: 2 * (n % 2), tokenIDs: [1, 2], anchor: 0)
    }
    let run = try RunFile.open(at: url, spec: RunSpec(header: header, options: [" True", " False"], samples: samples,
                                                      saveActivations: false), ifExists: .refuse)
    for n in labels.indices {
        let qk = (0..<2).flatMap { option in choices[n].map { $0 == option ? Float(1) : 0 } }
        try run.write(row: n, qk: qk, modelLogits: model[n] == 0 ? [1, 0] : [0, 1])
    }
    try run.close()
}

final class SelectCommandTests: XCTestCase {
    private var directory: URL!
    private var a: String!, b: String!

    /// A: head 0 always right, head 1 always answers 0, the model right on even rows.
    /// B: head 0 always answers 0 (at chance), head 1 always right, the model always right.
    override func setUpWithError() throws {
        directory = try CLI.temporaryDirectory()
        addTeardownBlock { [directory] in try? FileManager.default.removeItem(at: directory!) }
        let labels = [0, 1, 0, 1, 0, 1]
        a = directory.appendingPathComponent("A.h5").path
        b = directory.appendingPathComponent("B.h5").path
        try writeHandBuiltRun(to: URL(fileURLWithPath: a), labels: labels, choices: labels.map { [$0, 0] },
                              model: labels.enumerated().map { $0 % 2 == 0 ? $1 : 1 - $1 })
        try writeHandBuiltRun(to: URL(fileURLWithPath: b), labels: labels, choices: labels.map { [0, $0] }, model: labels)
    }

    func testTransferTableOnStdout() throws {
        let result = try CLI.run(["select", "--calibration", a, "--test", b, "--top-k", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        let transfer = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("Transfer:") })
        XCTAssertEqual(lines[transfer + 3], "\(a!) 100.0 / 100.0 / 100.0 / 50.0 50.0 / 50.0 / 50.0 / 100.0", result.stdout)
        XCTAssertTrue(lines.contains("L0H0 100.0% 50.0%"), result.stdout)
        XCTAssertTrue(lines.contains("model 50.0% 100.0%"), result.stdout)
    }

    func testJSONGoesToItsOwnFileAndNeverOverARun() throws {
        let output = directory.appendingPathComponent("selection.json").path
        let written = try CLI.run(["select", "--calibration", a, "--test", b, "--top-k", "2", "--output", output])
        XCTAssertEqual(written.status, 0, written.stderr)
        XCTAssertEqual(written.stdout, "")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any])
        XCTAssertEqual(object["format"] as? String, "qkprobe-selection")
        XCTAssertEqual(object["top_k"] as? Int, 2)
        let again = try CLI.run(["select", "--calibration", a, "--top-k", "2", "--output", output])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertEqual(again.stderr, "Error: \(output): already exists (pass --force to replace it)\n")
        XCTAssertEqual(try CLI.run(["select", "--calibration", a, "--output", output, "--force", "--top-k", "2"]).status, 0)

        let ontoInput = try CLI.run(["select", "--calibration", a, "--test", b, "--output", b, "--force", "--top-k", "2"])
        XCTAssertNotEqual(ontoInput.status, 0)
        XCTAssertEqual(ontoInput.stderr, "Error: \(b!): is an input of this command (\(b!)); write to another file\n")
        let otherRun = directory.appendingPathComponent("C.h5").path
        try FileManager.default.copyItem(atPath: b, toPath: otherRun)
        let ontoRun = try CLI.run(["select", "--calibration", a, "--output", otherRun, "--force", "--top-k", "2"])
        XCTAssertEqual(ontoRun.stderr, "Error: \(otherRun): is an HDF5 file; a report never replaces one\n")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: otherRun)), try Data(contentsOf: URL(fileURLWithPath: b)))
    }

    func testRunsOfDifferentModelsAreRefused() throws {
        let other = directory.appendingPathComponent("other-model.h5").path
        try writeHandBuiltRun(to: URL(fileURLWithPath: other), labels: [0, 1], choices: [[0, 0], [1, 1]], model: [0, 1],
                              modelSHA256: String(repeating: "cd", count: 32))
        let result = try CLI.run(["select", "--calibration", a, "--test", other, "--top-k", "1"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr, "Error: \(other): made with a different model than \(a!) (model_sha256 cdcdcdcdcdcd… "
            + "vs abababababab…); heads of different models cannot be compared\n")
    }

    func testSplitIsDeterministic() throws {
        let run = directory.appendingPathComponent("big.h5").path
        let labels = (0..<40).map { $0 % 2 }
        try writeHandBuiltRun(to: URL(fileURLWithPath: run), labels: labels,
                              choices: labels.enumerated().map { n, label in [n % 3 == 0 ? 1 - label : label, n % 5 == 0 ? label : 0] },
                              model: labels)
        let arguments = ["select", "--calibration", run, "--split", "0.7", "--seed", "5", "--format", "json", "--top-k", "2"]
        let first = try CLI.run(arguments), second = try CLI.run(arguments)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.stdout, second.stdout)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        let sets = try XCTUnwrap(object["sets"] as? [[String: Any]])
        XCTAssertEqual(sets.map { $0["name"] as? String }, ["\(run) [70% calibration, seed 5]", "\(run) [30% held out, seed 5]"])
        XCTAssertEqual(sets.map { $0["labelled"] as? Int }, [28, 12])
        let otherSeed = try CLI.run(["select", "--calibration", run, "--split", "0.7", "--seed", "6", "--format", "json", "--top-k", "2"])
        XCTAssertNotEqual(otherSeed.stdout, first.stdout)

        let seedAlone = try CLI.run(["select", "--calibration", run, "--seed", "5"])
        XCTAssertNotEqual(seedAlone.status, 0)
        XCTAssertTrue(seedAlone.stderr.hasPrefix("Error: --seed only applies with --split\n"), seedAlone.stderr)
        let twoRuns = try CLI.run(["select", "--calibration", run, "--calibration", a, "--split", "0.5"])
        XCTAssertTrue(twoRuns.stderr.hasPrefix("Error: --split splits one --calibration run, not 2\n"), twoRuns.stderr)
    }

    func testMissingRunFileIsAOneLineError() throws {
        let missing = directory.appendingPathComponent("missing.h5").path
        let result = try CLI.run(["select", "--calibration", missing])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.hasPrefix("Error: \(missing): "), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    }
}
