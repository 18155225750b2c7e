import Foundation
import ModelFormats
import XCTest
@testable import Transformer

/// Weights kept as stored (mapped, decoded a panel at a time) against the same file decoded to
/// float32 at load: the same sgemm calls on the same panel shapes, so the same bits, hooks and
/// logits alike.
final class WeightStorageTests: XCTestCase {
    func testTinyModelsGiveTheSameBitsStoredAndInFloat32() throws {
        for family in TinyModelTests.families {
            let folder = try fixtureURL(family)
            for path in [folder.path, folder.appendingPathComponent("model.gguf").path] {
                let stored = try Transformer(path: path, storage: .stored)
                let float32 = try Transformer(path: path, storage: .float32)
                XCTAssertEqual(stored.weightStorage, .stored)
                XCTAssertEqual(float32.weightStorage, .float32)
                let ids = try ReferenceFixture(family).ints("p0.ids")
                try assertSameBits(stored, float32, ids: ids, label: path)
            }
        }
    }

    /// The default model: Q4_1 matrices and a Q8_0 embedding (also its tied LM head), Q/K rows
    /// un-permuted as they are decoded.
    func testDefaultModelGivesTheSameBitsStoredAndInFloat32() throws {
        let path = try DefaultModel.resolve().path
        let stored = try Transformer(path: path, storage: .stored)
        let float32 = try Transformer(path: path, storage: .float32)
        XCTAssertTrue(stored.weights.layers[0].qkv.weight.isStored)
        XCTAssertTrue(stored.weights.tokenEmbedding.isStored)
        XCTAssertFalse(float32.weights.layers[0].qkv.weight.isStored)
        XCTAssertEqual(stored.weights.layers.reduce(0) { $0 + $1.qkv.weight.heapBytes }, 0, "stored weights copy nothing")
        let ids = (0 ..< 70).map { ($0 * 7919 + 13) % stored.config.vocabSize }
        try assertSameBits(stored, float32, ids: ids, label: "default model")
    }

    /// `automatic` decodes the default model (about 540 MB in float32) and keeps anything over
    /// the limit as stored.
    func testAutomaticStorageDecodesSmallModelsOnly() throws {
        let path = try DefaultModel.resolve().path
        let automatic = try Transformer(path: path)
        XCTAssertEqual(automatic.weightStorage, .float32)
        XCTAssertFalse(automatic.weights.layers[0].qkv.weight.isStored)
        let config = automatic.config
        let expected = 4 * (config.vocabSize * config.dModel + config.nLayers * config.dModel
            * (config.nHeads * config.dHead + 2 * config.nKVHeads * config.dHead + config.nHeads * config.dHead + 3 * config.dFF))
        XCTAssertEqual(automatic.weights.float32Bytes, expected, "tied LM head counted once")
        XCTAssertEqual(try Transformer(path: path, storage: .stored).weights.float32Bytes, expected, "the same, before decoding")
        let limit = WeightStorage.automaticFloat32Bytes
        XCTAssertEqual(WeightStorage.automatic.resolved(float32Bytes: limit), .float32)
        XCTAssertEqual(WeightStorage.automatic.resolved(float32Bytes: limit + 1), .stored)
        XCTAssertEqual(WeightStorage.stored.resolved(float32Bytes: 1), .stored)
        XCTAssertEqual(WeightStorage.float32.resolved(float32Bytes: limit + 1), .float32)
    }

    /// Row decoding follows the whole-tensor decoder of every block type of the default model.
    func testRowsDecodeAsTheWholeTensor() throws {
        let path = try DefaultModel.resolve().path
        let gguf = try GGUFFile(url: URL(fileURLWithPath: path))
        for name in ["token_embd.weight", "blk.0.ffn_down.weight"] {
            let whole = try gguf.tensor(name)
            let stored = try XCTUnwrap(try gguf.storedTensor(name))
            let matrix = WeightMatrix(stacking: [(stored, nil)], columns: whole.shape[1])
            var row = [Float](repeating: 0, count: whole.shape[1])
            for r in [0, 1, whole.shape[0] / 2, whole.shape[0] - 1] {
                row.withUnsafeMutableBufferPointer { matrix.decodeRow(r, into: $0.baseAddress!) }
                XCTAssertEqual(row.map(\.bitPattern), whole.data[r * whole.shape[1] ..< (r + 1) * whole.shape[1]].map(\.bitPattern),
                               "\(name) row \(r)")
            }
        }
    }

    /// Logits at every position, every hook, and a pass with branches and chosen vocabulary.
    private func assertSameBits(_ a: Transformer, _ b: Transformer, ids: [Int], label: String) throws {
        let hooks = Set(a.hookNames)
        let ra = try a.forward(ids, logits: .all, capture: HookCapture(hooks))
        let rb = try b.forward(ids, logits: .all, capture: HookCapture(hooks))
        XCTAssertEqual(ra.logits.values.map(\.bitPattern), rb.logits.values.map(\.bitPattern), "\(label) logits")
        for hook in hooks.sorted() {
            XCTAssertEqual(ra[hook]?.values.map(\.bitPattern), rb[hook]?.values.map(\.bitPattern), "\(label) \(hook)")
        }
        let trunk = Array(ids.dropLast(3)), branches = Array(ids.suffix(3))
        var ca = a.makeCache(), cb = b.makeCache()
        let ba = try a.forward(trunk, branches: branches, cache: &ca, logits: .last, vocabulary: branches, capture: HookCapture(hooks))
        let bb = try b.forward(trunk, branches: branches, cache: &cb, logits: .last, vocabulary: branches, capture: HookCapture(hooks))
        XCTAssertEqual(ba.logits.values.map(\.bitPattern), bb.logits.values.map(\.bitPattern), "\(label) branch logits")
        XCTAssertEqual(ba[HookName(.residPost, layer: a.config.nLayers - 2)]?.values.map(\.bitPattern),
                       bb[HookName(.residPost, layer: a.config.nLayers - 2)]?.values.map(\.bitPattern), "\(label) branch residuals")
    }
}
