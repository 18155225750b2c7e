import Foundation
import XCTest
@testable import RunStore

/// `probe --shard I/N` files and `merge`, on synthetic rows: a row's results depend only on its
/// row in the whole run, as the probe's do (one forward pass per sample).
final class ShardMergeTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory(self)
    }

    /// The spec of shard `index` of `count` of `whole`.
    private func shardSpec(_ whole: RunSpec, _ index: Int, of count: Int, datasetRows: Int? = nil) throws -> RunSpec {
        let shard = try RunShard(shard: Shard(index: index, count: count), totalRows: whole.samples.count,
                                 datasetRows: datasetRows ?? whole.samples.count)
        var spec = whole
        spec.samples = shard.rows.map { whole.samples[$0] }
        spec.shard = shard
        return spec
    }

    /// Writes a run (whole or shard) with every row, or only `rows` of it (local indices).
    @discardableResult
    private func write(_ spec: RunSpec, _ name: String, rows: [Int]? = nil) throws -> URL {
        let url = directory.appendingPathComponent(name)
        let run = try RunFile.open(at: url, spec: spec, ifExists: .refuse)
        let global = spec.shard?.rows ?? Array(spec.samples.indices)
        for local in rows ?? Array(global.indices) {
            try SyntheticRow(row: global[local], shape: run.shape).write(to: run, row: local)
        }
        if run.pendingRows.isEmpty { try run.writeHeadTables(syntheticHeadTables(for: run)) }
        try run.close()
        return url
    }

    private func shards(_ whole: RunSpec, count: Int, prefix: String = "shard") throws -> [URL] {
        try (1...count).map { try write(shardSpec(whole, $0, of: count), "\(prefix)-\($0).h5") }
    }

    /// Stand-in head tables (in [0, 1]) that depend on what the closure is given, to show it got the merged rows.
    private func tables(_ run: RunReader) -> HeadTables {
        let (l, h) = (run.shape.layers, run.shape.heads)
        let (s, d) = (run.stepsValues.count, run.distractorsValues.count)
        return HeadTables(accuracy: Array(repeating: Self.digest(run.qk), count: l * h), accuracyBySteps: Array(repeating: 0.1, count: s * l * h),
                          accuracyByDistractors: Array(repeating: 0.2, count: d * l * h), baselineAccuracy: Float(run.shape.samples) / 100,
                          baselineAccuracyBySteps: Array(repeating: 0.3, count: s), baselineAccuracyByDistractors: Array(repeating: 0.4, count: d))
    }

    private static func digest(_ scores: [Float]) -> Float { (tanh(scores.reduce(0, +)) + 1) / 2 }

    private func merge(_ inputs: [URL], _ name: String = "merged.h5", overwrite: Bool = false) throws -> URL {
        let output = directory.appendingPathComponent(name)
        _ = try ShardMerge.merge(inputs, into: output, overwrite: overwrite, headTables: tables)
        return output
    }

    private func assertRefused(_ inputs: [URL], output: String = "merged.h5", naming file: URL? = nil,
                               _ words: [String], line: UInt = #line) {
        XCTAssertThrowsError(try merge(inputs, output), line: line) { error in
            let message = "\(error)"
            XCTAssertFalse(message.contains("\n"), message, line: line)
            if let file { XCTAssertTrue(message.hasPrefix(file.path + ": "), message, line: line) }
            for word in words { XCTAssertTrue(message.contains(word), "\(word) not in: \(message)", line: line) }
        }
        if output == "merged.h5" {
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent(output).path), line: line)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent(output + ShardMerge.temporarySuffix).path), line: line)
    }

    func testRoundRobinSplit() throws {
        XCTAssertEqual(try Shard(parsing: "2/4").rows(ofTotal: 10), [1, 5, 9])
        XCTAssertEqual(try Shard(parsing: "4/4").rows(ofTotal: 10), [3, 7])
        XCTAssertEqual(try Shard(parsing: "1/1").rows(ofTotal: 3), [0, 1, 2])
        let all = try (1...3).flatMap { try Shard(index: $0, count: 3).rows(ofTotal: 11) }
        XCTAssertEqual(all.sorted(), Array(0..<11), "every row in exactly one shard")
        for bad in ["0/4", "5/4", "2", "a/b", "1/0", "-1/2", "2/4/1"] {
            XCTAssertThrowsError(try Shard(parsing: bad), bad) { XCTAssertTrue("\($0)".contains("I/N"), "\($0)") }
        }
        XCTAssertThrowsError(try Shard(parsing: "1/5").rows(ofTotal: 4)) { XCTAssertTrue("\($0)".contains("at most 4 shards"), "\($0)") }
    }

    func testShardFileRecordsItsPlaceAndResumesOnlyAsThatShard() throws {
        let whole = makeSpec(samples: 10)
        let spec = try shardSpec(whole, 2, of: 3, datasetRows: 25)
        let url = try write(spec, "s2.h5", rows: [0, 2])
        do {
            let reader = try RunReader(url: url)
            XCTAssertEqual(reader.shard, spec.shard)
            XCTAssertEqual(reader.shard?.rows, [1, 4, 7])
            XCTAssertEqual(reader.shard?.datasetRows, 25)
            XCTAssertEqual(reader.samples, [1, 4, 7].map { whole.samples[$0] })
        }
        let check = try checkRunFiles([url])
        XCTAssertEqual(check.status, 0, check.output)

        let resumed = try RunFile.open(at: url, spec: spec, ifExists: .resume)
        XCTAssertEqual(resumed.pendingRows, [1])
        try resumed.close()
        for (other, words) in [(try shardSpec(whole, 3, of: 3), "shard 3/3"), (whole, "a whole run")] {
            XCTAssertThrowsError(try RunFile.open(at: url, spec: other, ifExists: .resume)) { error in
                XCTAssertTrue("\(error)".contains("shard 2/3") && "\(error)".contains(words), "\(error)")
            }
        }
    }

    func testMergedShardsEqualTheWholeRunInEveryPerSampleDataset() throws {
        for activations in [true, false] {
            let whole = makeSpec(samples: 11, saveActivations: activations)
            let reference = try write(whole, "whole-\(activations).h5")
            let parts = try shards(whole, count: 3, prefix: "a\(activations)")
            let merged = try merge([parts[2], parts[0], parts[1]], "merged-\(activations).h5")
            let (a, b) = (try RunReader(url: reference), try RunReader(url: merged))
            XCTAssertNil(b.shard)
            XCTAssertEqual(b.header, a.header)
            XCTAssertEqual(b.samples, a.samples)
            XCTAssertEqual(b.options, a.options)
            XCTAssertEqual(b.complete, a.complete)
            XCTAssertEqual(bits(b.qk), bits(a.qk))
            XCTAssertEqual(bits(b.modelLogits), bits(a.modelLogits))
            XCTAssertEqual(b.stepsValues, a.stepsValues)
            XCTAssertEqual(b.distractorsValues, a.distractorsValues)
            XCTAssertEqual(b.hasActivations, activations)
            for row in 0..<11 where activations {
                XCTAssertEqual(bits(try b.queries(sample: row)), bits(try a.queries(sample: row)))
                XCTAssertEqual(bits(try b.keys(sample: row)), bits(try a.keys(sample: row)))
            }
            // The head tables were computed from the merged rows.
            XCTAssertEqual(b.headTables?.accuracy.first, Self.digest(a.qk))
            XCTAssertEqual(b.headTables?.baselineAccuracy, 0.11)
            let check = try checkRunFiles([merged] + parts)
            XCTAssertEqual(check.status, 0, check.output)
            // Every per-sample dataset, whatever the layout holds, through h5py; the heads
            // differ here only because this test's stand-in tables do.
            let compare = try runPython([repositoryRoot.appendingPathComponent("scripts/compare_runs.py").path,
                                         reference.path, merged.path])
            XCTAssertNotEqual(compare.status, 0)
            let differing = compare.output.split(separator: "\n").filter { !$0.contains("/heads/") }
            XCTAssertEqual(differing, [], compare.output)
        }
    }

    func testMergeRefusesShardsOfDifferentRuns() throws {
        let whole = makeSpec(samples: 9)
        let parts = try shards(whole, count: 3)
        func variant(_ name: String, _ change: (inout RunSpec) -> Void) throws -> URL {
            var spec = try shardSpec(whole, 3, of: 3)
            change(&spec)
            return try write(spec, name)
        }
        let threads = try variant("threads.h5") { $0.header.threads = 4 }
        assertRefused([parts[0], parts[1], threads], naming: threads, ["threads 4", parts[0].path])
        let model = try variant("model.h5") { $0.header.modelSHA256 = String(repeating: "ef", count: 32) }
        assertRefused([parts[0], parts[1], model], naming: model, ["model_sha256"])
        let dataset = try variant("dataset.h5") { $0.header.datasetSHA256 = String(repeating: "01", count: 32) }
        assertRefused([parts[0], parts[1], dataset], naming: dataset, ["dataset_sha256"])
        let rope = try variant("rope.h5") { $0.header.qkRope = .post }
        assertRefused([parts[0], parts[1], rope], naming: rope, ["qk_rope post"])
        let activations = try variant("activations.h5") { $0.saveActivations = false }
        assertRefused([parts[0], parts[1], activations], naming: activations, ["activations"])
        let options = try variant("options.h5") { $0.options = [" Yes", " No"] }
        assertRefused([parts[0], parts[1], options], naming: options, ["options"])
        let rows = try variant("dataset-rows.h5") { $0.shard?.datasetRows = 99 }
        assertRefused([parts[0], parts[1], rows], naming: rows, ["another split"])
        let other = try write(shardSpec(makeSpec(samples: 8), 3, of: 3), "other-split.h5")
        assertRefused([parts[0], parts[1], other], naming: other, ["shard 3/3 of 8 rows"])
        // A root attribute the header does not know (a later layout's) is compared too.
        let extra = try write(shardSpec(whole, 3, of: 3), "extra.h5")
        do {
            let file = try H5File.open(extra.path, writable: true)
            try file.setAttribute("sample_seed", Int64(7))
        }
        assertRefused([parts[0], parts[1], extra], naming: extra, ["sample_seed"])
        let whole2 = try write(whole, "not-a-shard.h5")
        assertRefused([parts[0], whole2], naming: whole2, ["not a shard"])
    }

    func testMergeRefusesMissingOverlappingAndIncompleteRows() throws {
        let whole = makeSpec(samples: 10)
        let parts = try shards(whole, count: 4)
        assertRefused([parts[0], parts[1], parts[3]], ["rows 2, 6", "missing: shard 3/4"])
        let copy = directory.appendingPathComponent("copy-of-2.h5")
        try FileManager.default.copyItem(at: parts[1], to: copy)
        assertRefused(parts + [copy], naming: copy, ["overlaps", parts[1].path, "rows 1, 5, 9"])
        assertRefused([parts[0], parts[1], parts[2], parts[3], parts[1]], naming: parts[1], ["given twice"])
        let partial = try write(shardSpec(whole, 3, of: 4), "partial.h5", rows: [1])
        assertRefused([parts[0], parts[1], partial, parts[3]], naming: partial, ["incomplete", "missing row 2 ", "--resume"])
    }

    func testMergeNeverWritesOverAnInputOrAnExistingFile() throws {
        let parts = try shards(makeSpec(samples: 6), count: 2)
        let before = try Data(contentsOf: parts[0])
        assertRefused(parts, output: parts[0].lastPathComponent, naming: parts[0], ["one of the shards"])
        let link = directory.appendingPathComponent("link.h5")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: parts[1])
        assertRefused(parts, output: "link.h5", naming: link, ["one of the shards"])
        XCTAssertEqual(try Data(contentsOf: parts[0]), before)
        let existing = directory.appendingPathComponent("existing.h5")
        try Data("keep me".utf8).write(to: existing)
        assertRefused(parts, output: "existing.h5", naming: existing, ["already exists"])
        XCTAssertEqual(try String(contentsOf: existing, encoding: .utf8), "keep me")
        _ = try merge(parts, "existing.h5", overwrite: true)
        XCTAssertEqual(try RunReader(url: existing).shape.samples, 6)
    }

    func testAFailedMergeLeavesNoFile() throws {
        let parts = try shards(makeSpec(samples: 6), count: 2)
        let output = directory.appendingPathComponent("merged.h5")
        struct Stop: Error {}
        XCTAssertThrowsError(try ShardMerge.merge(parts, into: output) { _ in throw Stop() })
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path + ShardMerge.temporarySuffix))
    }
}
