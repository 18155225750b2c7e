import XCTest

@testable import LogicTasks

final class SamplingTests: XCTestCase {
    /// 100 samples: labels 72/28 like Multi-LogiEval, steps 1-4, the first 40 all label 0.
    private func dataset() throws -> LogicDataset {
        let samples = (0..<100).map { i in
            LogicSample(id: "s\(i)", prompt: "p\(i)\nAnswer:", options: AnswerOptions.yesNo, label: i < 72 ? 0 : 1,
                        steps: 1 + i % 4, distractors: 0)
        }
        return try LogicDataset(name: "d", samples: samples, source: "d.jsonl")
    }

    func testTheStratifiedSampleIsProportionalSeededAndInFileOrder() throws {
        let data = try dataset()
        let (indices, selection, warning) = data.stratifiedSample(25, seed: 7)
        XCTAssertNil(warning)
        XCTAssertEqual(indices.count, 25)
        XCTAssertEqual(indices, indices.sorted())
        XCTAssertEqual(Set(indices).count, 25)
        // 72% of 25 = 18 of label 0, exactly: labels are allocated first.
        let zeros = indices.filter { data.samples[$0].label == 0 }.count
        XCTAssertEqual(zeros, 18)
        for steps in 1...4 {
            XCTAssertTrue((5...8).contains(indices.filter { data.samples[$0].steps == steps }.count))
        }
        XCTAssertEqual(data.stratifiedSample(25, seed: 7).indices, indices, "the same seed, the same rows")
        XCTAssertNotEqual(data.stratifiedSample(25, seed: 8).indices, indices)
        XCTAssertEqual(selection.summary, "stratified sample of 25 over label x steps x distractors, seed 7")
        // Nested: 18 of label 0 (72%) and 7 of label 1; label 0's 72 rows are 18 per steps value
        // (4.5 rows each), so two of the four tied steps values get 5, and the seed, not their
        // order, decides which.
        let favoured = Set((0..<40).map { seed in
            let rows = data.stratifiedSample(25, seed: UInt64(seed)).indices.filter { data.samples[$0].label == 0 }
            return (1...4).filter { steps in rows.filter { data.samples[$0].steps == steps }.count == 5 }
        })
        XCTAssertGreaterThan(favoured.count, 1, "ties always go the same way")
        XCTAssertNotNil(data.stratifiedSample(500, seed: 0).warning)
        XCTAssertEqual(data.stratifiedSample(500, seed: 0).indices.count, 100)
    }

    func testSourceGroupNamesTheSourcesOwnGroups() throws {
        var metadata = JSONObject()
        metadata.set("logic", .string("fol"))
        metadata.set("rule", .string("mp"))
        metadata.set("proof", .array([]))
        let sample = LogicSample(id: "m", prompt: "p\nAnswer:", options: AnswerOptions.yesNo, label: 0, metadata: metadata)
        XCTAssertEqual(sample.sourceGroup, "logic=fol rule=mp")
        var category = JSONObject()
        category.set("QCat", .string("0_0"))
        XCTAssertEqual(LogicSample(id: "q", prompt: "p", options: AnswerOptions.yesNo, metadata: category).sourceGroup, "QCat=0_0")
        XCTAssertEqual(LogicSample(id: "n", prompt: "p", options: AnswerOptions.yesNo).sourceGroup, "")
    }

    /// Fewer rows than strata: the labels still split in proportion (the flat allocation gave
    /// 15/25 for a balanced set).
    func testLabelsStayProportionalWhenTheSampleIsSmallerThanTheStrata() throws {
        let samples = (0..<600).map { i in
            LogicSample(id: "s\(i)", prompt: "p\(i)\nAnswer:", options: AnswerOptions.trueFalse, label: i % 2,
                        steps: 1 + (i / 2) % 6, distractors: (i / 12) % 5)
        }
        let data = try LogicDataset(name: "d", samples: samples, source: "d.jsonl")
        for seed in 0..<10 {
            let rows = data.stratifiedSample(40, seed: UInt64(seed)).indices
            XCTAssertEqual(rows.filter { data.samples[$0].label == 0 }.count, 20, "seed \(seed)")
            for steps in 1...6 {
                XCTAssertTrue((6...8).contains(rows.filter { data.samples[$0].steps == steps }.count), "seed \(seed)")
            }
        }
    }

    func testLimitWarnsWhenTheRowsItKeepsHaveOneLabel() throws {
        let data = try dataset()
        let first = data.firstRows(40)
        XCTAssertEqual(first.indices, Array(0..<40))
        XCTAssertEqual(first.selection.summary, "the first 40 rows")
        XCTAssertTrue(first.warning?.contains("all have the label \" yes\"") == true, first.warning ?? "no warning")
        XCTAssertNil(data.firstRows(80).warning)
        XCTAssertEqual(data.firstRows(nil).indices.count, 100)
    }
}
