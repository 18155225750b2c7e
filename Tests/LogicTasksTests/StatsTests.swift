import XCTest

@testable import LogicTasks

final class StatsTests: XCTestCase {
    private func dataset() throws -> LogicDataset {
        let options = AnswerOptions.yesNo
        let samples = [
            LogicSample(id: "a", prompt: "A? Answer:", options: options, label: 0, steps: 2, distractors: 1),
            LogicSample(id: "b", prompt: "B? Answer:", options: options, label: 1, steps: 2, distractors: 1),
            LogicSample(id: "c", prompt: "C? Answer:", options: options, label: 1, steps: 1, distractors: 1),
            LogicSample(id: "d", prompt: "D? Answer:", options: options, label: nil, steps: nil, distractors: 0),
            LogicSample(id: "e", prompt: "E? Answer:", options: options, label: 0, steps: 1, distractors: 0),
        ]
        return try LogicDataset(name: "tiny", samples: samples, source: "test")
    }

    func testCountsByStepsDistractorsAndLabel() throws {
        let stats = DatasetStats(try dataset())
        XCTAssertEqual(stats.cells.map { [$0.steps, $0.distractors] }, [[1, 0], [1, 1], [2, 1], [nil, 0]], "sorted, unknown last")
        XCTAssertEqual(stats.cells.map(\.labels), [[1, 0], [0, 1], [1, 1], [0, 0]])
        XCTAssertEqual(stats.cells.map(\.unlabelled), [0, 0, 0, 1])
        XCTAssertEqual(stats.labelTotals, [2, 2])
        XCTAssertEqual(stats.total, 5)
    }

    func testJSONAndTable() throws {
        let stats = DatasetStats(try dataset())
        XCTAssertEqual(
            stats.json.serialized,
            #"{"name":"tiny","samples":5,"options":[" yes"," no"],"labels":[2,2],"unlabelled":1,"cells":["#
                + #"{"steps":1,"distractors":0,"labels":[1,0],"unlabelled":0,"total":1},"#
                + #"{"steps":1,"distractors":1,"labels":[0,1],"unlabelled":0,"total":1},"#
                + #"{"steps":2,"distractors":1,"labels":[1,1],"unlabelled":0,"total":2},"#
                + #"{"steps":null,"distractors":0,"labels":[0,0],"unlabelled":1,"total":1}]}"#)
        XCTAssertEqual(
            stats.table,
            """
            tiny: 5 samples, options [" yes"," no"]
            steps  distractors  yes  no  unlabelled  total
            1      0              1   0           0      1
            1      1              0   1           0      1
            2      1              1   1           0      2
            ?      0              0   0           1      1
            all                   2   2           1      5

            """)
    }

    func testDatasetInvariants() {
        let yes = LogicSample(id: "a", prompt: "A? Answer:", options: AnswerOptions.yesNo)
        assertFails(try LogicDataset(name: "x", samples: [], source: "src"), mentioning: "src", "no samples")
        assertFails(try LogicDataset(name: "x", samples: [yes, yes], source: "src"), mentioning: "duplicate sample id a")
        var other = yes
        other.id = "b"
        other.options = AnswerOptions.trueFalse
        let mixed = try? LogicDataset(name: "x", samples: [yes, other], source: "src")
        XCTAssertEqual(mixed?.options, [" yes| True", " no| False"], "options may differ, their count may not")
        XCTAssertEqual(mixed?.hasMixedOptions, true)
        other.options = [" True", " False", " Unknown"]
        assertFails(try LogicDataset(name: "x", samples: [yes, other], source: "src"), mentioning: "sample b has 3 options", "same number of options")
        var single = yes
        single.options = [" yes"]
        assertFails(try LogicDataset(name: "x", samples: [single], source: "src"), mentioning: "at least two")
        var repeated = yes
        repeated.options = [" yes", " yes"]
        assertFails(try LogicDataset(name: "x", samples: [repeated], source: "src"), mentioning: "repeats")
    }
}
