import XCTest

@testable import LogicTasks

final class MultipleChoiceTests: XCTestCase {
    private func write(_ text: String, _ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mcqa-\(UUID().uuidString)-\(name)")
        try Data(text.utf8).write(to: url)
        return url
    }

    func testPromptAndKeyPlaces() throws {
        let text = MultipleChoice.prompt(question: "Which?\nA. is not a choice", choices: ["red", "blue."])
        XCTAssertEqual(text, "Which?\nA. is not a choice\nA. red\nB. blue.\nAnswer:")
        let bytes = Array(text.utf8)
        let letters = try XCTUnwrap(MultipleChoice.keyOffsets(in: text, options: 2, cue: "Answer:", key: .letter))
        XCTAssertEqual(letters.map { bytes[$0] }, Array("AB".utf8))
        XCTAssertEqual(letters[0], "Which?\nA. is not a choice\n".utf8.count, "the question's own \"A.\" is not an option line")
        let periods = try XCTUnwrap(MultipleChoice.keyOffsets(in: text, options: 2, cue: "Answer:", key: .period))
        XCTAssertEqual(periods, letters.map { $0 + 1 })
        let ends = try XCTUnwrap(MultipleChoice.keyOffsets(in: text, options: 2, cue: "Answer:", key: .eol))
        XCTAssertEqual(ends.map { bytes[$0] }, Array("\n\n".utf8))
        XCTAssertEqual(String(decoding: bytes[..<ends[0]], as: UTF8.self), "Which?\nA. is not a choice\nA. red")
        XCTAssertEqual(String(decoding: bytes[..<ends[1]], as: UTF8.self), "Which?\nA. is not a choice\nA. red\nB. blue.")
        XCTAssertNil(MultipleChoice.keyOffsets(in: "No options\nAnswer:", options: 2, cue: "Answer:", key: .eol))
    }

    func testLoaderAndItsErrors() throws {
        let good = try write(#"{"id":"q","question":"Which?","choices":["x","y","z"],"answer":2,"steps":1}"# + "\n" + #"{"question":"Or?","choices":["u","v","w"]}"# + "\n", "good.jsonl")
        XCTAssertEqual(try DatasetFormat.detect(good), .multiplechoice)
        let dataset = try DatasetFormat.multiplechoice.load(good)
        XCTAssertEqual(dataset.samples.map(\.id), ["q", "2"])
        XCTAssertEqual(dataset.options, [" A", " B", " C"])
        XCTAssertEqual(dataset.samples[0].label, 2)
        XCTAssertEqual(dataset.samples[0].steps, 1)
        XCTAssertEqual(try dataset.samples[0].promptText(), "Which?\nA. x\nB. y\nC. z\nAnswer:")
        assertFails(try MultipleChoice.load(write(#"{"question":"Q","choices":["a","b"],"answer":2}"#, "range.jsonl")), mentioning: "range.jsonl:1:", "answer 2")
        assertFails(try MultipleChoice.load(write(#"{"question":"Q","choices":["a"]}"#, "one.jsonl")), mentioning: "one.jsonl:1:", "1 choices")
        assertFails(try MultipleChoice.load(write(#"{"question":"Q","choices":["a\nb","c"]}"#, "lines.jsonl")), mentioning: "lines.jsonl:1:", "one line")
        assertFails(try MultipleChoice.load(write(#"{"question":"Q","choices":"ab"}"#, "kind.jsonl")), mentioning: "kind.jsonl:1:", "list of strings")
        assertFails(try MultipleChoice.load(write(#"{"choices":["a","b"]}"#, "missing.jsonl")), mentioning: "missing.jsonl:1:", "\"question\"")
    }

    func testGeneratorIsSeededBalancedAndRoundTrips() throws {
        let samples = try MultipleChoice.generate(count: 24, steps: 1...3, choices: 4, seed: 11)
        XCTAssertEqual(try MultipleChoice.encode(samples), try MultipleChoice.encode(MultipleChoice.generate(count: 24, steps: 1...3, choices: 4, seed: 11)))
        XCTAssertNotEqual(try MultipleChoice.encode(samples), try MultipleChoice.encode(MultipleChoice.generate(count: 24, steps: 1...3, choices: 4, seed: 12)))
        XCTAssertEqual(Dictionary(grouping: samples, by: { $0.label! }).mapValues(\.count), [0: 6, 1: 6, 2: 6, 3: 6])
        XCTAssertEqual(Dictionary(grouping: samples, by: { $0.steps! }).mapValues(\.count), [1: 8, 2: 8, 3: 8])
        for sample in samples {
            // The right choice is reached from the entity in `steps` hops through the stated facts.
            let question = try XCTUnwrap(sample.question)
            guard case .array(let choices)? = sample.metadata["choices"], let right = choices[sample.label!].stringValue else { return XCTFail() }
            let facts = question.components(separatedBy: "\nQuestion:")[0]
            let entityFact = try XCTUnwrap(facts.components(separatedBy: ". ").first { !$0.hasPrefix("Every") })
            var current = String(entityFact.split(separator: " ").last!.trimmingCharacters(in: .punctuationCharacters))
            for _ in 0..<sample.steps! {
                let rule = try XCTUnwrap(facts.components(separatedBy: ". ").first { $0.hasPrefix("Every \(current) is") })
                current = String(rule.split(separator: " ").last!.trimmingCharacters(in: .punctuationCharacters))
            }
            XCTAssertTrue(right.hasSuffix(" " + current), "\(sample.id): \(right) vs \(current)")
        }
        let url = try write(try MultipleChoice.encode(samples), "generated.jsonl")
        XCTAssertEqual(try DatasetFormat.detect(url).load(url).samples, samples.map { sample in
            var copy = sample
            copy.metadata = JSONObject([("choices", sample.metadata["choices"]!)])
            return copy
        })
    }
}
