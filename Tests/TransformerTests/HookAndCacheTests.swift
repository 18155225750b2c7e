import Foundation
import ModelFormats
import XCTest
@testable import Transformer

/// Hook selection, capture by position, edits, and the KV cache, on the tiny models.
final class HookAndCacheTests: XCTestCase {
    private func model(_ family: String = "tiny-llama") throws -> Transformer {
        try Transformer(path: fixtureURL(family).path)
    }

    private func prompt(_ family: String = "tiny-llama") throws -> [Int] {
        try ReferenceFixture(family).ints("p1.ids")
    }

    // MARK: Names and patterns

    func testHookNamesFollowTransformerLens() throws {
        let llama = try model()
        XCTAssertEqual(llama.hookNames.first?.description, "hook_embed")
        XCTAssertEqual(llama.hookNames.last?.description, "ln_final.hook_normalized")
        XCTAssertEqual(llama.hookNames.count, 2 + 12 * llama.config.nLayers)
        XCTAssertEqual(try llama.hooks(matching: "blocks.*.attn.hook_q").map(\.description).sorted(),
                       ["blocks.0.attn.hook_q", "blocks.1.attn.hook_q"])
        XCTAssertEqual(try llama.hooks(matching: "blocks.1.*").count, 12)
        XCTAssertEqual(try llama.hooks(matching: "*hook_rot_*").count, 4)
        XCTAssertEqual(try llama.hooks(matching: ["hook_embed", "blocks.0.hook_resid_pre"]).count, 2)

        // GPT-2 has learned positions and no rotary embedding.
        let gpt2 = try model("tiny-gpt2")
        XCTAssertEqual(try gpt2.hooks(matching: "hook_pos_embed").count, 1)
        XCTAssertThrowsError(try gpt2.hooks(matching: "blocks.*.attn.hook_rot_q"))
    }

    func testUnknownHookPatternListsTheHooks() throws {
        let llama = try model()
        XCTAssertThrowsError(try llama.hooks(matching: "blocks.*.attn.hook_query")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("no hook matches 'blocks.*.attn.hook_query'"), message)
            XCTAssertTrue(message.contains("blocks.{0-1}.{hook_resid_pre, attn.hook_q,"), message)
            XCTAssertFalse(message.contains("\n"))
        }
        XCTAssertThrowsError(try llama.hooks(matching: "blocks.2.attn.hook_q"))
        // A hook of another model (layer 5 of a 2-layer model) is refused at run time.
        XCTAssertThrowsError(try llama.forward([1, 2], capture: HookCapture([HookName(.query, layer: 5)]))) { error in
            XCTAssertTrue("\(error)".contains("no hook blocks.5.attn.hook_q in this model"), "\(error)")
        }
    }

    // MARK: Capture

    func testCaptureKeepsOnlyTheAskedPositionsAndHooks() throws {
        let llama = try model(), ids = try prompt()
        let hooks = try llama.hooks(matching: ["blocks.*.attn.hook_k", "blocks.1.attn.hook_pattern", "blocks.0.hook_resid_mid"])
        let all = try llama.forward(ids, capture: HookCapture(hooks))
        let some = try llama.forward(ids, capture: HookCapture(hooks, positions: [40, 3, 500]))
        XCTAssertEqual(Set(some.activations.keys), hooks)
        // The last block runs only from the first captured row on, in other blocks of rows than
        // the full pass: equal to float rounding.
        var errors = Comparison()
        for hook in hooks {
            let full = try XCTUnwrap(all[hook]), partial = try XCTUnwrap(some[hook])
            XCTAssertEqual(partial.positions, [3, 40])
            if hook.point == .pattern {
                XCTAssertEqual(partial.shape, [4, 2, ids.count])
                for head in 0 ..< 4 {
                    errors.elementwise(try XCTUnwrap(partial.vector(at: 40, head: head)), try XCTUnwrap(full.vector(at: 40, head: head)),
                                       absolute: 1e-6, relative: 0, "\(hook) head \(head)")
                }
            } else {
                for position in [3, 40] {
                    errors.vector(Array(try XCTUnwrap(partial.row(at: position))), Array(try XCTUnwrap(full.row(at: position))),
                                  relative: 1e-5, "\(hook) position \(position)")
                }
            }
        }
        errors.assertPassed("captured rows")
        XCTAssertTrue(try llama.forward(ids).activations.isEmpty)
    }

    func testPatternRowsAreCausalDistributions() throws {
        let llama = try model(), ids = try prompt()
        let pattern = try XCTUnwrap(try llama.forward(ids, capture: HookCapture([HookName(.pattern, layer: 0)]))[HookName(.pattern, layer: 0)])
        for head in 0 ..< llama.config.nHeads {
            for query in ids.indices {
                let row = try XCTUnwrap(pattern.vector(at: query, head: head))
                XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
                XCTAssertTrue(row.dropFirst(query + 1).allSatisfy { $0 == 0 })
            }
        }
    }

    // MARK: Edits

    func testEditsFlowOnThroughThePass() throws {
        let llama = try model(), ids = try prompt()
        let watched = try llama.hooks(matching: ["blocks.0.hook_attn_out", "blocks.0.hook_resid_pre", "blocks.0.hook_resid_mid",
                                                 "blocks.0.attn.hook_z"])
        // Zero every head's z in layer 0: its attention output (no bias in Llama) is zero, so the
        // residual stream does not change across attention.
        let ablated = try llama.forward(ids, logits: .all, capture: HookCapture(watched),
                                        edit: HookEdit([HookName(.z, layer: 0)]) { z in
                                            z.values = [Float](repeating: 0, count: z.values.count)
                                        })
        XCTAssertTrue(try XCTUnwrap(ablated[HookName(.z, layer: 0)]).values.allSatisfy { $0 == 0 })
        XCTAssertTrue(try XCTUnwrap(ablated[HookName(.attentionOut, layer: 0)]).values.allSatisfy { $0 == 0 })
        XCTAssertEqual(ablated[HookName(.residMid, layer: 0)]?.values, ablated[HookName(.residPre, layer: 0)]?.values)

        let clean = try llama.forward(ids, logits: .all)
        XCTAssertNotEqual(ablated.logits.values, clean.logits.values)
        // An edit that changes nothing leaves every number as it was.
        let unchanged = try llama.forward(ids, logits: .all, edit: HookEdit(Set(llama.hookNames.filter { $0.point != .pattern })) { _ in })
        XCTAssertEqual(unchanged.logits.values, clean.logits.values)

        // An edit between a residual add and the norm after it reaches the norm (the add and the
        // norm then run as two steps). Llama has no biases, so a zero stream stays zero: zeroing it
        // after block 0 leaves block 1 nothing to add, the same as zeroing it before block 1.
        let zero: (inout Activation) -> Void = { $0.values = [Float](repeating: 0, count: $0.values.count) }
        let afterBlock = try llama.forward(ids, logits: .all, capture: HookCapture([HookName(.residMid, layer: 1)]),
                                           edit: HookEdit([HookName(.residPost, layer: 0)], zero))
        XCTAssertTrue(try XCTUnwrap(afterBlock[HookName(.residMid, layer: 1)]).values.allSatisfy { $0 == 0 })
        let beforeBlock = try llama.forward(ids, logits: .all, edit: HookEdit([HookName(.residPre, layer: 1)], zero))
        XCTAssertEqual(afterBlock.logits.values, beforeBlock.logits.values)
        XCTAssertNotEqual(afterBlock.logits.values, clean.logits.values)
        let afterAttention = try llama.forward(ids, logits: .all, capture: HookCapture([HookName(.residPost, layer: 0)]),
                                               edit: HookEdit([HookName(.residMid, layer: 0)], zero))
        XCTAssertTrue(try XCTUnwrap(afterAttention[HookName(.residPost, layer: 0)]).values.allSatisfy { $0 == 0 })

        // The final norm's output is the LM head's input: zero gives zero logits.
        let zeroed = try llama.forward(ids, logits: .last, edit: HookEdit([HookName(.finalNormalized)]) { x in
            x.values = [Float](repeating: 0, count: x.values.count)
        })
        XCTAssertTrue(zeroed.logits.values.allSatisfy { $0 == 0 })

        XCTAssertThrowsError(try llama.forward(ids, edit: HookEdit([HookName(.pattern, layer: 0)]) { _ in })) { error in
            XCTAssertTrue("\(error)".contains("blocks.0.attn.hook_pattern can be captured but not edited"), "\(error)")
        }
    }

    /// An edit of the turned keys reaches the cache attention reads (the copy into the cache, which
    /// otherwise joins the rotary step, then waits for it): doubling every key of a layer doubles
    /// its scores exactly, as doubling every query does.
    func testAnEditOfTheTurnedKeysReachesAttention() throws {
        let llama = try model(), ids = try prompt()
        let double: (inout Activation) -> Void = { $0.values = $0.values.map { 2 * $0 } }
        let keys = try llama.forward(ids, logits: .all, edit: HookEdit([HookName(.rotatedKey, layer: 0)], double))
        let queries = try llama.forward(ids, logits: .all, edit: HookEdit([HookName(.rotatedQuery, layer: 0)], double))
        XCTAssertEqual(keys.logits.values, queries.logits.values)
        XCTAssertNotEqual(keys.logits.values, try llama.forward(ids, logits: .all).logits.values)
    }

    // MARK: KV cache

    /// A prompt run in pieces (a prefix, then one token at a time) gives the logits and keys of
    /// one full pass, for every family.
    func testIncrementalPassesEqualAFullPass() throws {
        for family in TinyModelTests.families {
            let model = try model(family), ids = try prompt(family)
            let hooks = try model.hooks(matching: "blocks.*.attn.hook_k")
            let full = try model.forward(ids, logits: .all, capture: HookCapture(hooks))
            var cache = model.makeCache()
            var logits: [Float] = []
            var keys: [HookName: [Float]] = [:]
            for piece in [Array(ids[..<10])] + ids[10...].map({ [$0] }) {
                let result = try model.forward(piece, cache: &cache, logits: .all, capture: HookCapture(hooks))
                logits += result.logits.values
                for hook in hooks { keys[hook, default: []] += try XCTUnwrap(result[hook]).values }
            }
            XCTAssertEqual(cache.tokens, ids)
            var errors = Comparison()
            errors.elementwise(logits, full.logits.values, absolute: 1e-4, relative: 1e-5, "\(family) logits")
            for hook in hooks {
                errors.vector(try XCTUnwrap(keys[hook]), try XCTUnwrap(full[hook]).values, relative: 1e-6, "\(family) \(hook)")
            }
            errors.assertPassed("\(family) incremental")
        }
    }

    func testTruncateForgetsAndCopiesFork() throws {
        let llama = try model(), ids = try prompt()
        var cache = llama.makeCache()
        _ = try llama.forward(Array(ids[..<20]), cache: &cache, logits: .none)
        let fork = cache
        let first = try llama.forward([ids[20]], cache: &cache).logits.values
        cache.truncate(to: 20)
        XCTAssertEqual(cache.count, 20)
        let other = try llama.forward([ids[30]], cache: &cache).logits.values
        cache.truncate(to: 20)
        XCTAssertEqual(try llama.forward([ids[20]], cache: &cache).logits.values, first)
        var errors = Comparison()
        errors.elementwise(other, try llama.forward(Array(ids[..<20]) + [ids[30]]).logits.values,
                           absolute: 1e-5, relative: 1e-5, "after truncation")
        errors.assertPassed("truncated cache")
        XCTAssertEqual(fork.count, 20)
        var forked = fork
        XCTAssertEqual(try llama.forward([ids[20]], cache: &forked).logits.values, first)
    }

    func testLogitsAtChosenPositions() throws {
        let llama = try model(), ids = try prompt()
        let all = try llama.forward(ids, logits: .all).logits
        let chosen = try llama.forward(ids, logits: .positions([7, 2, 7])).logits
        XCTAssertEqual(chosen.positions, [2, 7])
        var errors = Comparison()
        for position in [2, 7] {
            errors.elementwise(try XCTUnwrap(chosen.row(at: position)), try XCTUnwrap(all.row(at: position)),
                               absolute: 1e-5, relative: 1e-5, "logits @\(position)")
        }
        errors.assertPassed("chosen positions")
        XCTAssertTrue(try llama.forward(ids, logits: .none).logits.values.isEmpty)
        XCTAssertThrowsError(try llama.forward(ids, logits: .positions([ids.count])))
    }

    /// Branches give what appending each token alone on the cache gives, and leave the cache as
    /// the trunk left it; a vocabulary gives those columns of the full logits.
    func testBranchesEqualAppendingEachAloneAndVocabularyPicksColumns() throws {
        for family in TinyModelTests.families {
            let model = try model(family), ids = try prompt(family)
            let trunk = Array(ids[..<24]), branches = [ids[24], ids[30], ids[24]]
            let hooks = try model.hooks(matching: !model.capabilities.hasRotaryEmbedding
                ? ["blocks.*.attn.hook_q", "blocks.*.attn.hook_k", "blocks.*.hook_resid_post"]
                : ["blocks.*.attn.hook_rot_q", "blocks.*.attn.hook_rot_k", "blocks.*.hook_resid_post"])
            var cache = model.makeCache()
            let fused = try model.forward(trunk, branches: branches, cache: &cache, logits: .last,
                                          vocabulary: [branches[1], 3, branches[0]], capture: HookCapture(hooks))
            XCTAssertEqual(cache.tokens, trunk, "\(family): branches are not kept")

            var single = model.makeCache()
            let trunkPass = try model.forward(trunk, cache: &single, logits: .last, capture: HookCapture(hooks))
            let fullRow = try XCTUnwrap(trunkPass.logits.row(at: trunk.count - 1))
            var errors = Comparison()
            errors.elementwise(fused.logits.values, [fullRow[fullRow.startIndex + branches[1]], fullRow[fullRow.startIndex + 3],
                                                     fullRow[fullRow.startIndex + branches[0]]],
                               absolute: 1e-5, relative: 1e-5, "\(family) vocabulary logits")
            XCTAssertEqual(fused.logits.tokenIDs, [branches[1], 3, branches[0]])
            for (b, token) in branches.enumerated() {
                let alone = try model.forward([token], cache: &single, logits: .none, capture: HookCapture(hooks))
                single.truncate(to: trunk.count)
                for hook in hooks {
                    errors.vector(Array(try XCTUnwrap(try XCTUnwrap(fused[hook]).row(at: trunk.count + b))),
                                  Array(try XCTUnwrap(try XCTUnwrap(alone[hook]).row(at: trunk.count))),
                                  relative: 1e-5, "\(family) branch \(b) \(hook)")
                }
            }
            // The trunk rows are the same sums in a 27-row and a 24-row pass, but OpenBLAS may pick
            // other kernels or blockings for the two shapes (AVX-512 kernels differ by 1.4e-6 at
            // scale 3.3 on tiny-qwen3): equal within float32 rounding of the sums, 1e-5 of the scale.
            for hook in hooks {
                errors.vector(Array(try XCTUnwrap(try XCTUnwrap(fused[hook]).row(at: 5))),
                              Array(try XCTUnwrap(try XCTUnwrap(trunkPass[hook]).row(at: 5))), relative: 1e-5, "\(family) trunk \(hook)")
            }
            errors.assertPassed("\(family) branches")
        }
    }
}
