import Foundation
import ModelFormats
import XCTest
@testable import Transformer

/// Chat templates against what transformers' apply_chat_template renders (chat_templates.json).
final class ChatTemplateTests: XCTestCase {
    private struct Case: Decodable {
        let name: String
        let template: String
        let message: String
        let rendered: String
        let chatml: Bool
    }

    private func cases() throws -> [Case] {
        try JSONDecoder().decode([Case].self, from: Data(contentsOf: fixtureURL("chat_templates.json")))
    }

    func testChatMLTemplatesRenderAsTransformersDoes() throws {
        let cases = try cases()
        XCTAssertEqual(Set(cases.map(\.name)), ["smollm2", "tiny", "qwen-style", "llama2-style"])
        for test in cases where test.chatml {
            let template = try ChatTemplate(template: test.template, source: test.name)
            XCTAssertEqual(template.render(userMessage: test.message), test.rendered, test.name)
        }
    }

    func testOtherTemplatesAreRefused() throws {
        for test in try cases() where !test.chatml {
            XCTAssertThrowsError(try ChatTemplate(template: test.template, source: test.name)) { error in
                XCTAssertTrue("\(error)".hasPrefix("\(test.name): chat template not supported: "), "\(error)")
            }
        }
    }

    func testTemplateIsReadFromGGUFMetadataAndTokenizerConfig() throws {
        let smollm = try XCTUnwrap(try cases().first { $0.name == "smollm2" })
        let fromGGUF = try ChatTemplate(model: OpenedModel.open(path: DefaultModel.resolve().path))
        XCTAssertEqual(fromGGUF.render(userMessage: smollm.message), smollm.rendered)

        let tiny = try XCTUnwrap(try cases().first { $0.name == "tiny" })
        let fromFolder = try ChatTemplate(model: OpenedModel.open(path: fixtureURL("tiny-qwen2").path))
        XCTAssertNil(fromFolder.defaultSystemMessage)
        XCTAssertEqual(fromFolder.render(userMessage: tiny.message), tiny.rendered)

        // The tiny GGUF files carry no template.
        XCTAssertThrowsError(try ChatTemplate(model: OpenedModel.open(path: fixtureURL("tiny-qwen2/model.gguf").path))) { error in
            XCTAssertTrue("\(error)".hasSuffix("model.gguf: the model has no chat template"), "\(error)")
        }
    }
}
