import Foundation
import LogicTasks
import ModelFormats
import Tokenizers
import Transformer
import XCTest
@testable import Probe

/// The probe against QK-scores computed the paper's way with transformers
/// (reference/make_probe_fixtures.py: one full pass per option, hooks on the projections).
final class ProbeReferenceTests: XCTestCase {
    struct Reference: Decodable {
        struct Sample: Decodable {
            let id: String
            let token_ids: [Int]
            let anchor: Int
            let option_ids: [Int]
            let option_logits: [Float]
            let qk_pre: [[[Float]]]
            let qk_post: [[[Float]]]
            /// The question-end rule's anchor and pre-rotary scores there.
            let anchor_question_end: Int
            let qk_pre_question_end: [[[Float]]]
        }
        let layers: Int
        let heads: Int
        let samples: [Sample]
    }

    private static let model = Result { try Transformer(path: DefaultModel.resolve().path) }
    private static let tokenizer = Result { try Tokenizer(gguf: GGUFFile(url: DefaultModel.resolve())) }

    private func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    }

    /// The samples as the plain-prompt lines of the fixture (each line keeps its own options).
    private func samples() throws -> [LogicSample] {
        let lines = try String(contentsOf: fixture("probe-samples.jsonl"), encoding: .utf8).split(separator: "\n")
        return try lines.map { line in
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return LogicSample(id: object["id"] as! String, prompt: object["prompt"] as? String,
                               options: object["options"] as! [String], label: object["label"] as? Int)
        }
    }

    private func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixture("probe-reference.json")))
    }

    func testTokensAnchorAndOptionsMatchTransformers() throws {
        let tokenizer = try Self.tokenizer.get()
        let reference = try reference()
        let samples = try samples()
        XCTAssertEqual(samples.count, reference.samples.count)
        for (sample, expected) in zip(samples, reference.samples) {
            let prepared = try PreparedSample(sample, template: nil, tokenizer: tokenizer, optionPolicy: .exact)
            XCTAssertEqual(prepared.tokenIDs, expected.token_ids, sample.id)
            XCTAssertEqual(prepared.anchor, expected.anchor, sample.id)
            XCTAssertEqual(prepared.optionIDs, expected.option_ids, sample.id)
            let questionEnd = try PreparedSample(sample, template: nil, tokenizer: tokenizer, optionPolicy: .exact,
                                                 anchorRule: .questionEnd)
            XCTAssertEqual(questionEnd.anchor, expected.anchor_question_end, sample.id)
            XCTAssertEqual(questionEnd.tokenIDs, prepared.tokenIDs, sample.id)
        }
    }

    /// Scores within 2e-3 + 1e-4·|score|, logits within 1e-3 + 1e-4·|logit|: float32 sums in a
    /// different order over 30 layers, on scores of magnitude ~10-100.
    func testScoresAndModelLogitsMatchTransformers() throws {
        let model = try Self.model.get()
        let reference = try reference()
        for rotary in QKRope.allCases {
            let prober = QKProber(model: model, rope: rotary, scale: .none)
            var worst: Float = 0
            for expected in reference.samples {
                let scores = try prober.score(PreparedSample(tokenIDs: expected.token_ids, anchor: expected.anchor,
                                                             optionIDs: expected.option_ids))
                for (o, logit) in expected.option_logits.enumerated() {
                    XCTAssertEqual(scores.modelLogits[o], logit, accuracy: 1e-3 + 1e-4 * abs(logit), expected.id)
                }
                let table = rotary == .pre ? expected.qk_pre : expected.qk_post
                for o in table.indices {
                    for l in 0..<reference.layers {
                        for h in 0..<reference.heads {
                            let want = table[o][l][h]
                            let got = scores.qk[(o * reference.layers + l) * reference.heads + h]
                            worst = max(worst, abs(got - want))
                            XCTAssertEqual(got, want, accuracy: 2e-3 + 1e-4 * abs(want), "\(expected.id) o\(o) L\(l)H\(h) \(rotary)")
                        }
                    }
                }
            }
            print("probe reference, \(rotary)-rotary: largest |score - transformers| = \(worst)")
        }
    }

    /// The question-end rule (the anchor before the paper's was adopted) against the same reference.
    func testQuestionEndScoresMatchTransformers() throws {
        let prober = QKProber(model: try Self.model.get(), rope: .pre, scale: .none)
        let reference = try reference()
        var differentAnchors = 0
        for expected in reference.samples {
            if expected.anchor_question_end != expected.anchor { differentAnchors += 1 }
            let scores = try prober.score(PreparedSample(tokenIDs: expected.token_ids, anchor: expected.anchor_question_end,
                                                         optionIDs: expected.option_ids))
            for o in expected.qk_pre_question_end.indices {
                for l in 0..<reference.layers {
                    for h in 0..<reference.heads {
                        let want = expected.qk_pre_question_end[o][l][h]
                        let got = scores.qk[(o * reference.layers + l) * reference.heads + h]
                        XCTAssertEqual(got, want, accuracy: 2e-3 + 1e-4 * abs(want), "\(expected.id) o\(o) L\(l)H\(h)")
                    }
                }
            }
        }
        XCTAssertGreaterThan(differentAnchors, 0, "the fixture tells the two rules apart")
    }

    func testScaledScoresAreTheUnscaledTimesTheFactor() throws {
        let model = try Self.model.get()
        let expected = try reference().samples[0]
        let sample = PreparedSample(tokenIDs: expected.token_ids, anchor: expected.anchor, optionIDs: expected.option_ids)
        let plain = try QKProber(model: model, rope: .pre, scale: .none).score(sample)
        let scaled = try QKProber(model: model, rope: .pre, scale: .sqrt).score(sample)
        XCTAssertEqual(scaled.queries, plain.queries)
        for (a, b) in zip(scaled.qk, plain.qk) { XCTAssertEqual(a, b / 8, accuracy: 1e-5 * max(1, abs(b))) }
    }
}

/// Chat templates against transformers' apply_chat_template (reference/make_chat_fixtures.py):
/// one small tokenizer per family with the family's template, and the default model's own.
final class ChatTemplateFamilyTests: XCTestCase {
    struct Expected: Decodable {
        struct Message: Decodable { let role: String; let content: String }
        struct Case: Decodable { let messages: [Message]; let text: String; let ids: [Int] }
        let family: String
        let cases: [Case]
    }

    private func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/chat/\(name)", withExtension: nil))
    }

    /// Renders and tokenizes every case; returns how many are token-identical.
    private func identicalCases(_ template: ChatTemplate, _ tokenizer: Tokenizer, _ expected: Expected) throws -> Int {
        var identical = 0
        for expectedCase in expected.cases {
            let messages = try expectedCase.messages.map { ChatMessage(try XCTUnwrap(ChatMessage.Role(rawValue: $0.role)), $0.content) }
            let rendering = try template.render(messages, bosToken: tokenizer.bosTokenID.flatMap(tokenizer.tokenString) ?? "",
                                                eosToken: tokenizer.eosTokenID.flatMap(tokenizer.tokenString) ?? "")
            XCTAssertEqual(rendering.text, expectedCase.text, expected.family)
            let ids = tokenizer.encode(rendering.text, addSpecialTokens: false)
            XCTAssertEqual(ids, expectedCase.ids, "\(expected.family): \(expectedCase.text.debugDescription)")
            if ids == expectedCase.ids { identical += 1 }
            // The last user message's content (as the template trims it) is where the rendering says.
            let content = try XCTUnwrap(messages.last).content
            let body = template.family == .llama3 || template.family == .gemma
                ? content.trimmingCharacters(in: .whitespacesAndNewlines) : content
            let start = rendering.lastUserContentUTF8Offset
            XCTAssertEqual(String(decoding: Array(rendering.text.utf8)[start..<(start + body.utf8.count)], as: UTF8.self), body)
        }
        print("chat template \(expected.family): \(identical) of \(expected.cases.count) conversations token-identical to transformers")
        return identical
    }

    func testEveryFamilyIsTokenIdenticalToTransformers() throws {
        for family in ChatTemplate.Family.allCases {
            let folder = try fixture(family.rawValue)
            let configURL = folder.appendingPathComponent("tokenizer_config.json")
            let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
            let template = try ChatTemplate(template: try XCTUnwrap(config["chat_template"] as? String), source: configURL.path)
            XCTAssertEqual(template.family, family)
            let tokenizer = try Tokenizer(folder: folder)
            let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
            XCTAssertGreaterThanOrEqual(expected.cases.count, 5)
            XCTAssertEqual(try identicalCases(template, tokenizer, expected), expected.cases.count, family.rawValue)
        }
    }

    func testDefaultModelsOwnTemplateIsTokenIdenticalToTransformers() throws {
        let gguf = try GGUFFile(url: DefaultModel.resolve())
        let template = try ChatTemplate(template: try XCTUnwrap(gguf.string("tokenizer.chat_template")), source: "default model")
        XCTAssertEqual(template.family, .chatML)
        XCTAssertEqual(template.defaultSystemMessage, "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixture("smollm2-gguf-expected.json")))
        XCTAssertEqual(try identicalCases(template, Tokenizer(gguf: gguf), expected), expected.cases.count)
    }

    func testUnknownTemplatesAreRefusedByName() {
        func refusal(_ template: String) -> String {
            do {
                _ = try ChatTemplate(template: template, source: "t.json")
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(refusal("{{ messages[0]['content'] }}").contains("none of these"))
        XCTAssertTrue(refusal("<|im_start|>{{ '<think>' }}<|im_end|>{% if add_generation_prompt %}{% endif %}").contains("Qwen3"))
        XCTAssertTrue(refusal("<|start_header_id|><|eot_id|>Cutting Knowledge Date").contains("Llama 3.1"))
        XCTAssertTrue(refusal("[INST] <<SYS>> [/INST]").contains("Llama 2"))
        XCTAssertTrue(refusal("{{ messages }}").contains("t.json"))
    }

    func testRoleRules() throws {
        let gemma = try ChatTemplate(template: "<start_of_turn><end_of_turn>", source: "g")
        XCTAssertThrowsError(try gemma.render([ChatMessage(.system, "s"), ChatMessage(.user, "u")], bosToken: "<bos>", eosToken: ""))
        XCTAssertThrowsError(try gemma.render([ChatMessage(.user, "u"), ChatMessage(.user, "v")], bosToken: "<bos>", eosToken: ""))
        XCTAssertThrowsError(try gemma.render([ChatMessage(.user, "u"), ChatMessage(.assistant, "a")], bosToken: "<bos>", eosToken: ""))
        XCTAssertEqual(try gemma.render([ChatMessage(.user, " hi\n")], bosToken: "<bos>", eosToken: "").text,
                       "<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n")
    }
}

/// Few-shot and chat prompts against transformers (reference/make_prompted_fixtures.py builds the
/// same prompts on its own, with apply_chat_template, and scores them the paper's way).
final class PromptedReferenceTests: XCTestCase {
    struct Reference: Decodable {
        struct Sample: Decodable {
            let id: String
            let shots: [String]
            let chat: Bool
            let token_ids: [Int]
            let anchor: Int
            let option_ids: [Int]
            let option_logits: [Float]
            let qk_pre: [[[Float]]]
        }
        let layers: Int
        let heads: Int
        let samples: [Sample]
    }

    private static let model = Result { try Transformer(path: DefaultModel.resolve().path) }
    private static let gguf = Result { try GGUFFile(url: DefaultModel.resolve()) }

    private func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    }

    private func samples() throws -> [String: LogicSample] {
        let lines = try String(contentsOf: fixture("probe-samples.jsonl"), encoding: .utf8).split(separator: "\n")
        let samples = try lines.map { line in
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return LogicSample(id: object["id"] as! String, prompt: object["prompt"] as? String,
                               options: object["options"] as! [String], label: object["label"] as? Int)
        }
        return Dictionary(uniqueKeysWithValues: samples.map { ($0.id, $0) })
    }

    func testFewShotAndChatPromptsMatchTransformers() throws {
        let gguf = try Self.gguf.get()
        let tokenizer = try Tokenizer(gguf: gguf)
        let chat = try ChatTemplate(template: try XCTUnwrap(gguf.string("tokenizer.chat_template")), source: "default model")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixture("prompted-reference.json")))
        let samples = try samples()
        let prober = QKProber(model: try Self.model.get(), rope: .pre, scale: .none)
        var worst: Float = 0
        for expected in reference.samples {
            let sample = try XCTUnwrap(samples[expected.id])
            let demonstrations = try expected.shots.map { try XCTUnwrap(samples[$0]) }
            let settings = PromptSettings(chat: expected.chat ? chat : nil)
            let prepared = try PreparedSample(sample, demonstrations: demonstrations, settings: settings, tokenizer: tokenizer)
            XCTAssertEqual(prepared.tokenIDs, expected.token_ids, expected.id)
            XCTAssertEqual(prepared.anchor, expected.anchor, expected.id)
            XCTAssertEqual(prepared.optionIDs, expected.option_ids, expected.id)
            XCTAssertEqual(prepared.shotIDs, expected.shots)
            let scores = try prober.score(prepared)
            for (o, logit) in expected.option_logits.enumerated() {
                XCTAssertEqual(scores.modelLogits[o], logit, accuracy: 1e-3 + 1e-4 * abs(logit), expected.id)
            }
            for o in expected.qk_pre.indices {
                for l in 0..<reference.layers {
                    for h in 0..<reference.heads {
                        let want = expected.qk_pre[o][l][h]
                        let got = scores.qk[(o * reference.layers + l) * reference.heads + h]
                        worst = max(worst, abs(got - want))
                        XCTAssertEqual(got, want, accuracy: 2e-3 + 1e-4 * abs(want), "\(expected.id) o\(o) L\(l)H\(h)")
                    }
                }
            }
        }
        print("few-shot and chat prompts: largest |score - transformers| = \(worst) over \(reference.samples.count) prompts")
    }
}

/// The MCQA geometry against reference/make_mcqa_fixtures.py (transformers, one pass, the option
/// lines' places tracked while the prompt is built).
final class MCQAReferenceTests: XCTestCase {
    struct Reference: Decodable {
        struct Sample: Decodable {
            let id: String
            let token_ids: [Int]
            let query: Int
            let option_ids: [Int]
            let option_logits: [Float]
            let keys_eol: [Int]
            let keys_letter: [Int]
            let keys_period: [Int]
            let qk_eol: [[[Float]]]
            let qk_letter: [[[Float]]]
            let qk_period: [[[Float]]]
        }
        let layers: Int
        let heads: Int
        let samples: [Sample]
    }

    private static let model = Result { try Transformer(path: DefaultModel.resolve().path) }

    private func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    }

    func testKeysScoresAndLettersMatchTransformers() throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(url: DefaultModel.resolve()))
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixture("mcqa-reference.json")))
        let dataset = try DatasetFormat.multiplechoice.load(fixture("mcqa-samples.jsonl"))
        XCTAssertEqual(dataset.samples.map(\.id), reference.samples.map(\.id))
        let prober = QKProber(model: try Self.model.get(), rope: .pre, scale: .none)
        var worst: Float = 0
        for key in MCQAKey.allCases {
            for (sample, expected) in zip(dataset.samples, reference.samples) {
                let prepared = try PreparedSample(sample, settings: PromptSettings(geometry: .multipleChoice(key)), tokenizer: tokenizer)
                XCTAssertEqual(prepared.tokenIDs, expected.token_ids, sample.id)
                XCTAssertEqual(prepared.anchor, expected.query, sample.id)
                XCTAssertEqual(prepared.optionIDs, expected.option_ids, sample.id)
                let (keys, table) = switch key {
                case .eol: (expected.keys_eol, expected.qk_eol)
                case .letter: (expected.keys_letter, expected.qk_letter)
                case .period: (expected.keys_period, expected.qk_period)
                }
                XCTAssertEqual(prepared.keyPositions, keys, "\(sample.id) \(key)")
                let scores = try prober.score(prepared)
                for (o, logit) in expected.option_logits.enumerated() {
                    XCTAssertEqual(scores.modelLogits[o], logit, accuracy: 1e-3 + 1e-4 * abs(logit), sample.id)
                }
                for o in table.indices {
                    for l in 0..<reference.layers {
                        for h in 0..<reference.heads {
                            let want = table[o][l][h]
                            let got = scores.qk[(o * reference.layers + l) * reference.heads + h]
                            worst = max(worst, abs(got - want))
                            XCTAssertEqual(got, want, accuracy: 2e-3 + 1e-4 * abs(want), "\(sample.id) \(key) o\(o) L\(l)H\(h)")
                        }
                    }
                }
            }
        }
        print("MCQA geometry: largest |score - transformers| = \(worst) over \(reference.samples.count) questions x 3 key choices")
    }

    func testAPromptWithoutOptionLinesIsRefused() throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(url: DefaultModel.resolve()))
        let plain = LogicSample(id: "p", prompt: "Is it?\nAnswer:", options: AnswerOptions.yesNo)
        XCTAssertThrowsError(try PreparedSample(plain, settings: PromptSettings(geometry: .multipleChoice(.eol)), tokenizer: tokenizer)) {
            XCTAssertTrue("\($0)".contains("sample p"), "\($0)")
        }
    }
}
