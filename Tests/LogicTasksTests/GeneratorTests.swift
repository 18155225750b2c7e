import Foundation
import XCTest

@testable import LogicTasks

final class GeneratorTests: XCTestCase {
    /// Sentences a problem has besides its distractors.
    private func baseSentences(_ family: TaskFamily, steps: Int) -> Int {
        switch family {
        case .ontology: steps + 1  // the fact, steps - 1 subtype rules, the property rule
        case .closedWorld: steps + 4  // the fact, steps rules, two contrast facts, the side rule
        }
    }

    /// Writes the samples, reads them back and proves each label from the text alone.
    private func assertCheckerProvesAll(_ samples: [LogicSample], file: StaticString = #filePath, line: UInt = #line) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qkprobe-check-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        try PromptFile.write(samples, to: url, overwrite: false)
        let loaded = try PromptFile.read(url).samples
        XCTAssertEqual(loaded.count, samples.count, file: file, line: line)
        for sample in loaded {
            let family = try XCTUnwrap(sample.metadata["family"]?.stringValue.flatMap(TaskFamily.init(rawValue:)))
            let context = try XCTUnwrap(sample.context)
            let question = try XCTUnwrap(sample.question)
            let steps = try XCTUnwrap(sample.steps)
            let result = try LogicChecker.check(context: context, question: question, semantics: family.semantics)
            XCTAssertEqual(result.answer, sample.label == 0, "\(sample.id): \(context) \(question)", file: file, line: line)
            XCTAssertEqual(result.steps, steps, "\(sample.id): \(context) \(question)", file: file, line: line)
            XCTAssertEqual(result.sentences, baseSentences(family, steps: steps) + (sample.distractors ?? -1), sample.id, file: file, line: line)
            XCTAssertEqual(sample.prompt, PromptTemplate.default.render(context: context, question: question), file: file, line: line)
            let contextSentences = sentences(of: context)
            XCTAssertEqual(Set(contextSentences).count, contextSentences.count, "\(sample.id) repeats a sentence", file: file, line: line)
        }
    }

    func testCheckerProvesThousandsOfSamples() throws {
        var total = 0
        for family in TaskFamily.allCases {
            for seed: UInt64 in [1, 2, 3, 77, 250_217_017] {
                let samples = try LogicGenerator.samples(
                    GeneratorSettings(family: family, steps: 1...6, distractors: 0...6, perCell: 8, seed: seed, proofOrder: seed == 77))
                try assertCheckerProvesAll(samples)
                total += samples.count
            }
        }
        XCTAssertEqual(total, 2 * 5 * 6 * 7 * 8)
    }

    func testTheLargestProblemsFitTheVocabulary() throws {
        for family in TaskFamily.allCases {
            for seed: UInt64 in [5, 6] {
                let settings = GeneratorSettings(
                    family: family, steps: LogicGenerator.stepsLimit.upperBound...LogicGenerator.stepsLimit.upperBound,
                    distractors: 10...LogicGenerator.distractorsLimit.upperBound, perCell: 16, seed: seed)
                try assertCheckerProvesAll(try LogicGenerator.samples(settings))
            }
        }
    }

    func testLabelsAndQueryNegationBalanceInEveryCell() throws {
        for family in TaskFamily.allCases {
            let samples = try LogicGenerator.samples(GeneratorSettings(family: family, steps: 1...4, distractors: 0...3, perCell: 12, seed: 9))
            XCTAssertEqual(samples.count, 4 * 4 * 12)
            let cells = Dictionary(grouping: samples) { [$0.steps ?? -1, $0.distractors ?? -1] }
            XCTAssertEqual(cells.count, 16)
            for (cell, members) in cells {
                for label in [0, 1] {
                    let withLabel = members.filter { $0.label == label }
                    XCTAssertEqual(withLabel.count, 6, "\(family) \(cell)")
                    XCTAssertEqual(withLabel.filter { $0.question?.contains(" not ") ?? false }.count, 3, "\(family) \(cell) label \(label)")
                }
            }
        }
    }

    func testSameSeedSameBytesAndCellsDoNotDependOnTheGrid() throws {
        let settings = GeneratorSettings(family: .ontology, steps: 1...4, distractors: 0...3, perCell: 4, seed: 42)
        let first = try PromptFile.encode(try LogicGenerator.samples(settings))
        XCTAssertEqual(first, try PromptFile.encode(try LogicGenerator.samples(settings)))
        var otherSeed = settings
        otherSeed.seed = 43
        XCTAssertNotEqual(first, try PromptFile.encode(try LogicGenerator.samples(otherSeed)))

        var oneCell = settings
        oneCell.steps = 3...3
        oneCell.distractors = 2...2
        let alone = try LogicGenerator.samples(oneCell)
        let inGrid = try LogicGenerator.samples(settings).filter { $0.steps == 3 && $0.distractors == 2 }
        XCTAssertEqual(alone, inGrid)
    }

    func testSamplesCarryTheirProofAndProvenance() throws {
        let samples = try LogicGenerator.samples(GeneratorSettings(family: .ontology, steps: 3...3, distractors: 2...2, perCell: 2, seed: 8))
        XCTAssertEqual(samples.map(\.id), ["ontology-8-s3-d2-0", "ontology-8-s3-d2-1"])
        for sample in samples {
            XCTAssertEqual(sample.metadata.keys, ["family", "seed", "generator", "order", "proof"])
            XCTAssertEqual(sample.metadata["seed"], .integer(8))
            XCTAssertEqual(sample.metadata["generator"], .string("qkprobe-logic \(LogicGenerator.version)"))
            guard case .array(let proof)? = sample.metadata["proof"] else { return XCTFail("no proof") }
            XCTAssertEqual(proof.count, 2 * 3 + 1, "a fact, then a rule and its conclusion per hop")
            // The proof ends in the query when it is true, in its negation when it is false.
            let statement = try XCTUnwrap(sample.question?.replacingOccurrences(of: "True or false: ", with: ""))
            XCTAssertEqual(proof.last?.stringValue == statement, sample.label == 0)
        }
    }

    func testProofOrderKeepsTheProofsPremisesInOrder() throws {
        for family in TaskFamily.allCases {
            let samples = try LogicGenerator.samples(
                GeneratorSettings(family: family, steps: 2...5, distractors: 0...4, perCell: 4, seed: 11, proofOrder: true))
            for sample in samples {
                let context = sentences(of: try XCTUnwrap(sample.context))
                guard case .array(let proof)? = sample.metadata["proof"] else { return XCTFail("no proof") }
                let positions = proof.compactMap { $0.stringValue.flatMap(context.firstIndex) }
                XCTAssertGreaterThan(positions.count, 1, sample.id)
                XCTAssertEqual(positions, positions.sorted(), sample.id)
                XCTAssertEqual(sample.metadata["order"], .string("proof"))
            }
        }
    }

    /// The distractors are built to defeat shallow cues. Without distractors, matching the query's
    /// words against the rules finds the ontology answer every time; with even one, it is at
    /// chance. In the closed-world family the entity always has a fact that some rule negates, so
    /// "a negated fact cuts the chain" is at chance too.
    func testShallowCuesAreAtChance() throws {
        func overlapGuess(_ sample: LogicSample) -> Bool {
            let statement = sample.question!.replacingOccurrences(of: "True or false: ", with: "")
            let negated = statement.contains(" is not ")
            let property = String(statement.split(separator: " ").last!.dropLast())
            let supports = sample.context!.contains(negated ? "is not \(property)." : "is \(property).")
            let opposes = sample.context!.contains(negated ? "is \(property)." : "is not \(property).")
            return supports || !opposes
        }
        let ontology = try LogicGenerator.samples(GeneratorSettings(steps: 1...5, distractors: 0...4, perCell: 20, seed: 3))
        func accuracy(_ samples: [LogicSample], _ guess: (LogicSample) -> Bool) -> Double {
            Double(samples.filter { guess($0) == ($0.label == 0) }.count) / Double(samples.count)
        }
        XCTAssertEqual(accuracy(ontology.filter { $0.distractors == 0 }, overlapGuess), 1.0)
        XCTAssertEqual(accuracy(ontology.filter { $0.distractors! > 0 }, overlapGuess), 0.5)

        let closedWorld = try LogicGenerator.samples(GeneratorSettings(family: .closedWorld, steps: 1...5, distractors: 0...4, perCell: 20, seed: 3))
        func cutGuess(_ sample: LogicSample) -> Bool {
            let statement = sample.question!.replacingOccurrences(of: "True or false: ", with: "")
            let entity = statement.split(separator: " ")[0]
            let negatedInRules = sentences(of: sample.context!).filter { $0.hasPrefix("If") }.flatMap { rule in
                rule.components(separatedBy: "not ").dropFirst().map { $0.split(separator: " ")[0] }
            }
            let cut = negatedInRules.contains { sample.context!.contains("\(entity) is \($0).") }
            return cut == statement.contains(" is not ")
        }
        XCTAssertEqual(accuracy(closedWorld, cutGuess), 0.5)
    }

    func testSettingsAreChecked() {
        assertFails(try LogicGenerator.samples(GeneratorSettings(steps: 1...3, distractors: 0...1, perCell: 3, seed: 1)), mentioning: "per-cell 3", "even")
        assertFails(try LogicGenerator.samples(GeneratorSettings(steps: 0...3, distractors: 0...1, perCell: 2, seed: 1)), mentioning: "steps")
        assertFails(try LogicGenerator.samples(GeneratorSettings(steps: 1...3, distractors: 0...13, perCell: 2, seed: 1)), mentioning: "distractors")
    }

    /// The committed datasets are exactly what the commands in datasets/README.md make.
    func testBundledDatasetsRegenerateByteForByte() throws {
        for (file, seed) in [("logic-calibration.jsonl", UInt64(2502)), ("logic-test.jsonl", UInt64(17017))] {
            let url = repositoryRoot.appendingPathComponent("datasets").appendingPathComponent(file)
            let committed = try String(contentsOf: url, encoding: .utf8)
            let settings = GeneratorSettings(family: .ontology, steps: 1...6, distractors: 0...4, perCell: 40, seed: seed)
            XCTAssertTrue(committed == (try PromptFile.encode(try LogicGenerator.samples(settings))), "\(file) differs from its command")
        }
    }
}
