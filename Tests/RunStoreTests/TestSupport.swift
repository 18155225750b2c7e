import Foundation
import XCTest
@testable import RunStore

/// A fresh directory under the system's temporary directory, removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("runstore-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
    return directory
}

/// A small run spec: odd sizes so that a transposed dimension cannot go unnoticed.
func makeSpec(samples count: Int = 7, saveActivations: Bool = true, layers: Int = 3, heads: Int = 4,
              kvHeads: Int = 2, headDim: Int = 5, threads: Int = 2) -> RunSpec {
    let header = RunHeader(
        toolVersion: "0.1.0-test", created: "2025-01-01T00:00:00Z", modelName: "tiny-test-model",
        modelPath: "/models/tiny.gguf", modelSHA256: String(repeating: "ab", count: 32), architecture: "llama",
        nLayers: layers, nHeads: heads, nKVHeads: kvHeads, dHead: headDim, datasetName: "unit-test",
        datasetSHA256: String(repeating: "cd", count: 32), template: "{context}\n{question}\nAnswer:",
        qkRope: .pre, qkScale: 1, threads: threads)
    let samples = (0..<count).map { index in
        let tokens = (0..<(3 + index % 5)).map { Int32(100 * index + $0) }
        return SampleInfo(id: index == 1 ? "prüfung-ü-1" : "sample-\(index)",
                          label: index % 4 == 3 ? -1 : index % 2, steps: index % 3 == 2 ? -1 : index % 3 + 1,
                          distractors: index % 5 == 4 ? -1 : index % 2 * 4, tokenIDs: tokens, anchor: tokens.count - 2)
    }
    return RunSpec(header: header, options: [" True", " False"], samples: samples, saveActivations: saveActivations)
}

/// Deterministic stand-in results for one row: random q and k, and the QK-scores computed from
/// them as the probe does (so check_runfile.py's recomputation applies).
struct SyntheticRow {
    var qk: [Float]
    var modelLogits: [Float]
    var queries: [Float]
    var keys: [Float]

    init(row: Int, shape: RunShape, scale: Float = 1) {
        var random = SplitMix64(seed: UInt64(row))
        queries = (0..<shape.queriesPerSample).map { _ in random.nextSignedUnit() }
        keys = (0..<shape.keysPerSample).map { _ in random.nextSignedUnit() }
        modelLogits = (0..<shape.options).map { _ in 10 * random.nextSignedUnit() }
        qk = []
        let group = shape.heads / shape.kvHeads
        for option in 0..<shape.options {
            for layer in 0..<shape.layers {
                for head in 0..<shape.heads {
                    let q = ((option * shape.layers + layer) * shape.heads + head) * shape.headDim
                    let k = (layer * shape.kvHeads + head / group) * shape.headDim
                    var dot: Float = 0
                    for i in 0..<shape.headDim { dot += queries[q + i] * keys[k + i] }
                    qk.append(dot * scale)
                }
            }
        }
    }

    func write(to run: RunFile, row: Int) throws {
        try run.write(row: row, qk: qk, modelLogits: modelLogits,
                      queries: run.saveActivations ? queries : nil, keys: run.saveActivations ? keys : nil)
    }
}

/// Head tables of the right sizes for `run`, with distinct values.
func syntheticHeadTables(for run: RunFile) -> HeadTables {
    let (l, h) = (run.shape.layers, run.shape.heads)
    let s = run.stepsValues.count, d = run.distractorsValues.count
    let cells = { (count: Int, offset: Float) in (0..<count).map { Float($0 % 7) / 8 + offset / 64 } }
    return HeadTables(accuracy: cells(l * h, 0), accuracyBySteps: cells(s * l * h, 1),
                      accuracyByDistractors: cells(d * l * h, 2), baselineAccuracy: 0.625,
                      baselineAccuracyBySteps: cells(s, 3), baselineAccuracyByDistractors: cells(d, 4))
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1), on a 2^-23 grid.
    mutating func nextSignedUnit() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

/// The bit patterns of floats, so that NaN == NaN and -0 != +0: "byte for byte".
func bits<C: Collection<Float>>(_ values: C) -> [UInt32] { values.map(\.bitPattern) }

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// Runs a program and returns its exit status and its output (stdout and stderr together).
@discardableResult
func runProgram(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
    -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

/// Runs python3 (h5py and numpy needed, as scripts/install-deps.sh installs them).
@discardableResult
func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try runProgram("/usr/bin/env", ["python3"] + arguments)
}

/// Runs scripts/check_runfile.py on the files.
func checkRunFiles(_ files: [URL]) throws -> (status: Int32, output: String) {
    try runPython([repositoryRoot.appendingPathComponent("scripts/check_runfile.py").path] + files.map(\.path))
}
