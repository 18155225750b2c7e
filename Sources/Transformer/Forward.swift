import ModelFormats

/// Which positions get next-token logits: the LM head is the largest single product of a pass, so
/// it runs only where asked.
public enum LogitSelection: Sendable, Equatable {
    case none
    /// The pass's last position.
    case last
    /// Every position of the pass.
    case all
    /// These absolute positions, which must lie in the pass (returned sorted, without repeats).
    case positions([Int])
}

/// Next-token logits at some positions, [positions.count, vocab] row-major.
public struct Logits: Sendable {
    public let positions: [Int]
    /// Values per position: the model's vocabulary, or `tokenIDs.count`.
    public let vocabularySize: Int
    /// The token ids of the columns when only some were asked for; nil for the whole vocabulary.
    public let tokenIDs: [Int]?
    public let values: [Float]

    /// The logits after the token at `position`, or nil if they were not computed.
    public func row(at position: Int) -> ArraySlice<Float>? {
        positions.firstIndex(of: position).map { values[$0 * vocabularySize ..< ($0 + 1) * vocabularySize] }
    }
}

/// What one forward pass returns.
public struct ForwardResult: Sendable {
    public let logits: Logits
    /// The captured hooks.
    public let activations: [HookName: Activation]

    /// A captured hook by name, e.g. `result["blocks.3.attn.hook_q"]`.
    public subscript(hook: String) -> Activation? {
        activations.first { $0.key.description == hook }?.value
    }

    public subscript(hook: HookName) -> Activation? { activations[hook] }
}

extension Transformer {
    /// Runs `tokens` after the ones already in `cache` and appends them to it.
    ///
    /// - Parameters:
    ///   - branches: one-token continuations of `tokens`, run in the same pass side by side: each
    ///     sits at the position after `tokens`, attends to the cache, `tokens` and itself only, and
    ///     is not kept in the cache. The same numbers as appending each alone and truncating, for
    ///     one read of the weights. Branch b's hook rows are reported at position
    ///     `cache.count + tokens.count + b`.
    ///   - logits: where to compute next-token logits (positions of `tokens`).
    ///   - vocabulary: compute logits for these token ids only, in this order (the LM head is the
    ///     largest matrix of a small model; answer options need two of its rows).
    ///   - capture: hooks to copy out, at which positions.
    ///   - edit: hooks to change as the pass runs.
    public func forward(
        _ tokens: [Int], branches: [Int] = [], cache: inout KVCache, logits: LogitSelection = .last,
        vocabulary: [Int]? = nil, capture: HookCapture = .nothing, edit: HookEdit? = nil
    ) throws -> ForwardResult {
        let start = cache.count
        let logitRows = try validate(tokens, branches: branches, cache: cache, logits: logits, vocabulary: vocabulary,
                                     capture: capture, edit: edit)
        let rows = tokens.count + branches.count
        cache.reserve(start + rows)
        var pass = ForwardPass(model: self, tokens: tokens + branches, trunkRows: tokens.count, start: start,
                               hooks: HookRunner(capture: capture, edit: edit, start: start, length: rows))
        defer { pass.workspace.deallocate() }
        let logitValues = pass.run(cache: &cache, logitRows: logitRows, vocabulary: vocabulary)
        cache.append(tokens)
        return ForwardResult(
            logits: Logits(positions: logitRows.map { start + $0 }, vocabularySize: vocabulary?.count ?? config.vocabSize,
                           tokenIDs: vocabulary, values: logitValues),
            activations: pass.hooks.activations)
    }

    /// Runs `tokens` from scratch.
    public func forward(
        _ tokens: [Int], logits: LogitSelection = .last, capture: HookCapture = .nothing, edit: HookEdit? = nil
    ) throws -> ForwardResult {
        var cache = makeCache()
        return try forward(tokens, cache: &cache, logits: logits, capture: capture, edit: edit)
    }

    /// Greedy decoding: appends the most likely next token until `maxNewTokens` are made, a token
    /// of `stopTokens` comes (not included), or the context is full. `onToken` sees each new token.
    public func generate(
        prompt: [Int], maxNewTokens: Int, stopTokens: Set<Int> = [], onToken: (Int) throws -> Void = { _ in }
    ) throws -> [Int] {
        var cache = makeCache()
        var next = prompt
        var generated: [Int] = []
        while generated.count < maxNewTokens, cache.count + next.count <= config.contextLength {
            let token = Self.argmax(try forward(next, cache: &cache, logits: .last).logits.values)
            if stopTokens.contains(token) { break }
            generated.append(token)
            try onToken(token)
            next = [token]
        }
        return generated
    }

    /// The index of the largest value, the first of equal ones (as `torch.argmax`).
    static func argmax(_ values: [Float]) -> Int {
        var best = 0
        for index in values.indices where values[index] > values[best] { best = index }
        return best
    }

    /// Checks a request before any work; returns the pass rows (0-based) that get logits.
    private func validate(_ tokens: [Int], branches: [Int], cache: KVCache, logits: LogitSelection,
                          vocabulary: [Int]?, capture: HookCapture, edit: HookEdit?) throws -> [Int] {
        guard !tokens.isEmpty else { throw TransformerError(path, "no tokens to run (empty prompt)") }
        if let bad = (tokens + branches + (vocabulary ?? [])).first(where: { !(0 ..< config.vocabSize).contains($0) }) {
            throw TransformerError(path, "token id \(bad) is outside the vocabulary 0..<\(config.vocabSize)")
        }
        guard cache.layerCount == config.nLayers, cache.width == config.nKVHeads * config.dHead else {
            throw TransformerError(path, "the KV cache was made for another model")
        }
        let end = cache.count + tokens.count
        guard end + branches.count <= config.contextLength else {
            let cached = cache.count > 0 ? " after \(cache.count) cached" : ""
            let branched = branches.isEmpty ? "" : " and \(branches.count) branches"
            throw TransformerError(path, "\(tokens.count) tokens\(branched)\(cached) exceed the model's context length of \(config.contextLength)")
        }
        let requested = capture.hooks.union(edit?.hooks ?? [])
        if !requested.isEmpty, let unknown = requested.subtracting(hookNames).sorted().first {
            throw TransformerError(path, "no hook \(unknown) in this model; hooks are \(hookSummary)")
        }
        if let edit, let pattern = edit.hooks.first(where: { $0.point == .pattern }) {
            throw TransformerError(path, "\(pattern) can be captured but not edited")
        }
        switch logits {
        case .none: return []
        case .last: return [tokens.count - 1]
        case .all: return Array(tokens.indices)
        case let .positions(positions):
            let pass = cache.count ..< end
            if let outside = positions.first(where: { !pass.contains($0) }) {
                throw TransformerError(path, "logits asked at position \(outside), outside this pass (\(pass.lowerBound)..<\(pass.upperBound))")
            }
            return Set(positions).sorted().map { $0 - cache.count }
        }
    }
}

/// The working state of one forward pass: the residual stream and scratch rows for T tokens.
private struct ForwardPass {
    let model: Transformer
    let tokens: [Int]
    /// Rows before the branches: the tokens that continue the sequence.
    let trunkRows: Int
    /// Absolute position of the first token.
    let start: Int
    var hooks: HookRunner
    let workspace: Workspace

    init(model: Transformer, tokens: [Int], trunkRows: Int, start: Int, hooks: HookRunner) {
        self.model = model
        self.tokens = tokens
        self.trunkRows = trunkRows
        self.start = start
        self.hooks = hooks
        workspace = Workspace(config: model.config, rows: tokens.count,
                              hiddenWidth: model.weights.layers.first?.mlp.hiddenWidth ?? 0)
    }

    var rows: Int { tokens.count }

    /// The position of each row: its own, except that every branch sits right after the trunk.
    var positions: [Int] { (0 ..< rows).map { start + min($0, trunkRows) } }

    mutating func run(cache: inout KVCache, logitRows: [Int], vocabulary: [Int]?) -> [Float] {
        PassProfile.time(.embed) { embed() }
        let rotaryTable = model.rotary?.table(for: positions)
        let localTable = model.localRotary?.table(for: positions)
        let lastLayer = model.weights.layers.count - 1
        let liveRows = lastLayerRows(logitRows: logitRows)
        var normalized = false
        for layer in model.weights.layers.indices {
            // Gemma's sliding-window layers turn q and k by their own (local) rotary base.
            let table = model.slidingWindow(layer) != nil ? localTable ?? rotaryTable : rotaryTable
            normalized = runBlock(layer, cache: &cache, rotaryTable: table, liveRows: layer == lastLayer ? liveRows : 0 ..< rows,
                                  normalized: normalized)
        }
        return PassProfile.time(.lmHead) { finalLogits(rows: logitRows, liveRows: liveRows, vocabulary: vocabulary) }
    }

    /// The rows whose output of the last block anything reads: the logit rows, and the captured
    /// (or, for an edit, all) rows of the hooks from that block's attention on. The block still
    /// computes every row's keys and values for the cache; the rest of it, and the final norm,
    /// run from the first live row on (a later row never influences an earlier one). A probe's
    /// option pass with no logits skips them altogether.
    private func lastLayerRows(logitRows: [Int]) -> Range<Int> {
        let layer = model.config.nLayers - 1
        let laterPoints: [HookPoint] = [.pattern, .z, .attentionOut, .residMid, .mlpOut, .residPost]
        let laterHooks = laterPoints.map { HookName($0, layer: layer) } + [HookName(.finalNormalized)]
        var first = logitRows.min() ?? rows
        if laterHooks.contains(where: { hooks.edit?.hooks.contains($0) == true }) {
            first = 0
        } else if laterHooks.contains(where: hooks.isActive) {
            first = min(first, hooks.capturedRows.first ?? rows)
        }
        return first ..< rows
    }

    /// x = token embedding (+ position embedding).
    private mutating func embed() {
        let d = model.config.dModel, x = workspace.residual
        for (row, token) in tokens.enumerated() {
            model.weights.tokenEmbedding.decodeRow(token, into: x + row * d)
        }
        if let scale = model.weights.embeddingScale {
            for i in 0 ..< rows * d { x[i] *= scale }
        }
        hooks.visit(HookName(.embed), x, stride: d, rowShape: [d])
        if let positions = model.weights.positionEmbedding {
            let scratch = workspace.normalized
            for (row, position) in self.positions.enumerated() {
                positions.decodeRow(position, into: scratch + row * d)
            }
            hooks.visit(HookName(.positionEmbed), scratch, stride: d, rowShape: [d])
            Kernels.add(scratch, into: x, count: rows * d)
        }
    }

    /// Block `l` over every row, or from attention on over `liveRows` only. `normalized`: the block
    /// before has already put this block's attention norm of the residual stream in the workspace.
    /// Returns whether this block did so for the next one.
    private mutating func runBlock(_ l: Int, cache: inout KVCache, rotaryTable: RotaryEmbedding.Table?, liveRows: Range<Int>,
                                   normalized alreadyNormalized: Bool) -> Bool {
        let config = model.config, layer = model.weights.layers[l], ws = workspace
        let d = config.dModel, dHead = config.dHead
        let qDim = config.nHeads * dHead, kvDim = config.nKVHeads * dHead, qkvWidth = qDim + 2 * kvDim
        let x = ws.residual

        hooks.visit(HookName(.residPre, layer: l), x, stride: d, rowShape: [d])
        if !alreadyNormalized {
            PassProfile.time(.norm) { layer.attentionNorm.apply(x, rows: rows, width: d, into: ws.normalized) }
        }
        PassProfile.time(.qkv) { layer.qkv.apply(ws.normalized, rows: rows, into: ws.qkv) }
        let q = ws.qkv, k = ws.qkv + qDim, v = ws.qkv + qDim + kvDim
        if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm {
            PassProfile.time(.qkNorm) {
                normalizeHeads(q, heads: config.nHeads, stride: qkvWidth, gain: queryNorm)
                normalizeHeads(k, heads: config.nKVHeads, stride: qkvWidth, gain: keyNorm)
            }
        }
        hooks.visit(HookName(.query, layer: l), q, stride: qkvWidth, rowShape: [config.nHeads, dHead])
        hooks.visit(HookName(.key, layer: l), k, stride: qkvWidth, rowShape: [config.nKVHeads, dHead])
        hooks.visit(HookName(.value, layer: l), v, stride: qkvWidth, rowShape: [config.nKVHeads, dHead])
        // The new keys and values go into the cache in the rotary step, each core copying the rows
        // it has just turned, unless an edit of the turned keys must change them first.
        var cached = false
        if let rotary = model.rotary, let rotaryTable {
            let rows = rows, heads = config.nHeads + config.nKVHeads
            cached = !hooks.isEdited(HookName(.rotatedKey, layer: l))
            PassProfile.time(.rotary) {
                // The key heads follow the query heads in each row: one step turns both.
                if cached {
                    cache.storing(layer: l, keys: k, values: v, stride: qkvWidth, start: start) { store in
                        rotary.apply(to: q, rows: rows, stride: qkvWidth, heads: heads, table: rotaryTable, then: store)
                    }
                } else {
                    rotary.apply(to: q, rows: rows, stride: qkvWidth, heads: heads, table: rotaryTable)
                }
            }
            hooks.visit(HookName(.rotatedQuery, layer: l), q, stride: qkvWidth, rowShape: [config.nHeads, dHead])
            hooks.visit(HookName(.rotatedKey, layer: l), k, stride: qkvWidth, rowShape: [config.nKVHeads, dHead])
        }
        if !cached {
            let rows = rows
            cache.storing(layer: l, keys: k, values: v, stride: qkvWidth, start: start) { store in
                // Shared over the cores like every other step: on one core the others would wait.
                Kernels.forEachChunk(of: rows, minimumChunk: Kernels.rowsPerThread, store)
            }
        }

        PassProfile.time(.attention) { attend(l, q: q, qkvWidth: qkvWidth, queryRows: liveRows, cache: cache) }
        guard !liveRows.isEmpty else { return false }
        // From here on, only the live rows: pointers to their first row, and their count.
        let first = liveRows.lowerBound, live = liveRows.count
        let z = ws.z + first * qDim, out = ws.sublayerOut + first * d, normalized = ws.normalized + first * d
        let liveX = x + first * d

        hooks.visit(HookName(.z, layer: l), ws.z, stride: qDim, rowShape: [config.nHeads, dHead])
        PassProfile.time(.output) { layer.output.apply(z, rows: live, into: out) }
        if let norm = layer.postAttentionNorm { PassProfile.time(.norm) { norm.apply(out, rows: live, width: d, into: out) } }
        hooks.visit(HookName(.attentionOut, layer: l), ws.sublayerOut, stride: d, rowShape: [d])
        if !addResidual(out, into: liveX, rows: live, normalizing: layer.mlpNorm, into: normalized,
                        between: [HookName(.residMid, layer: l)]) {
            PassProfile.time(.norm) { layer.mlpNorm.apply(liveX, rows: live, width: d, into: normalized) }
        }

        switch layer.mlp {
        case let .gatedSiLU(gateUp, down):
            PassProfile.time(.gateUp) { gateUp.applyGated(normalized, rows: live, wide: ws.mlpWide, gate: .silu, into: ws.mlpHidden) }
            PassProfile.time(.down) { down.apply(ws.mlpHidden, rows: live, into: out) }
        case let .gelu(up, down):
            PassProfile.time(.gateUp) { up.apply(normalized, rows: live, into: ws.mlpHidden) }
            PassProfile.time(.activation) { Kernels.geluTanh(ws.mlpHidden, count: live * up.outputs) }
            PassProfile.time(.down) { down.apply(ws.mlpHidden, rows: live, into: out) }
        case let .gatedGELU(gateUp, down):
            PassProfile.time(.gateUp) { gateUp.applyGated(normalized, rows: live, wide: ws.mlpWide, gate: .geluTanh, into: ws.mlpHidden) }
            PassProfile.time(.down) { down.apply(ws.mlpHidden, rows: live, into: out) }
        }
        if let norm = layer.postMLPNorm { PassProfile.time(.norm) { norm.apply(out, rows: live, width: d, into: out) } }
        hooks.visit(HookName(.mlpOut, layer: l), ws.sublayerOut, stride: d, rowShape: [d])
        // The next block's attention norm joins this add when it covers the same rows (all).
        let next = l + 1 < model.weights.layers.count && live == rows ? model.weights.layers[l + 1].attentionNorm : nil
        return addResidual(out, into: liveX, rows: live, normalizing: next, into: normalized,
                           between: [HookName(.residPost, layer: l), HookName(.residPre, layer: l + 1)])
    }

    /// `x += sum` over `rows` rows, then the hook `between[0]` on the new residual stream. With a
    /// `norm`, the add also normalises each new row of x into `normalized` in the same step (the
    /// row still in cache, one hand-off between the cores fewer), unless an edit of a hook
    /// `between` the add and the norm must change x first. Returns whether it normalised.
    private mutating func addResidual(_ sum: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, rows: Int,
                                      normalizing norm: Norm?, into normalized: UnsafeMutablePointer<Float>,
                                      between: [HookName]) -> Bool {
        let d = model.config.dModel
        let fused = norm != nil && !between.contains(where: hooks.isEdited)
        if let norm, fused {
            PassProfile.time(.residualAddNorm) { norm.addThenApply(sum, into: x, rows: rows, width: d, normalizedInto: normalized) }
        } else {
            PassProfile.time(.residualAdd) { Kernels.add(sum, into: x, count: rows * d) }
        }
        hooks.visit(between[0], workspace.residual, stride: d, rowShape: [d])
        return fused
    }

    /// Qwen3's per-head RMSNorm of q or k, in place.
    private func normalizeHeads(_ x: UnsafeMutablePointer<Float>, heads: Int, stride: Int, gain: [Float]) {
        let dHead = model.config.dHead, eps = model.config.normEps
        gain.withUnsafeBufferPointer { g in
            for row in 0 ..< rows {
                for head in 0 ..< heads {
                    let vector = x + row * stride + head * dHead
                    Kernels.rmsNorm(vector, count: dHead, gain: g.baseAddress!, eps: eps, into: vector)
                }
            }
        }
    }

    /// Attends over the cache, this pass's keys and values already in it, into z for the rows
    /// `queryRows`.
    private mutating func attend(_ l: Int, q: UnsafeMutablePointer<Float>, qkvWidth: Int, queryRows: Range<Int>,
                                 cache: KVCache) {
        let config = model.config
        let kvDim = config.nKVHeads * config.dHead, keyCount = start + rows
        let patternHook = HookName(.pattern, layer: l)
        let patternRows = hooks.isActive(patternHook) ? hooks.capturedRows : []
        var pattern = patternRows.isEmpty ? [] : [Float](repeating: 0, count: config.nHeads * patternRows.count * keyCount)
        let (rows, start, trunkRows, attention) = (self.rows, self.start, self.trunkRows, model.attention)
        let window = model.slidingWindow(l)
        let first = queryRows.lowerBound, zStride = config.nHeads * config.dHead, z = workspace.z + first * zStride

        cache.keys[l].withUnsafeBufferPointer { keys in
            cache.values[l].withUnsafeBufferPointer { values in
                guard !queryRows.isEmpty else { return }
                pattern.withUnsafeMutableBufferPointer { patternBuffer in
                    // Pattern rows are live rows; the kernel counts them from the first live row.
                    let sink = patternRows.isEmpty ? nil
                        : CausalAttention.PatternSink(rows: patternRows.map { $0 - first },
                                                      destination: patternBuffer.baseAddress!, keyCount: keyCount)
                    attention(queries: q + first * qkvWidth, queryStride: qkvWidth, rows: queryRows.count, start: start + first,
                              keys: keys.baseAddress!, values: values.baseAddress!, kvStride: kvDim,
                              branchStart: trunkRows < rows ? start + trunkRows : nil, window: window,
                              into: z, zStride: zStride, pattern: sink)
                }
            }
        }
        if !patternRows.isEmpty {
            hooks.store(Activation(hook: patternHook, positions: patternRows.map { start + $0 },
                                   shape: [config.nHeads, patternRows.count, keyCount], values: pattern))
        }
    }

    /// Final norm over the live rows (for `ln_final.hook_normalized`), then the LM head on `logitRows`.
    private mutating func finalLogits(rows logitRows: [Int], liveRows: Range<Int>, vocabulary: [Int]?) -> [Float] {
        let d = model.config.dModel, normalized = workspace.normalized
        let first = liveRows.lowerBound
        model.weights.finalNorm.apply(workspace.residual + first * d, rows: liveRows.count, width: d, into: normalized + first * d)
        hooks.visit(HookName(.finalNormalized), normalized, stride: d, rowShape: [d])
        guard !logitRows.isEmpty else { return [] }

        // The LM head reads contiguous rows; gather them unless they already are.
        let contiguous = zip(logitRows, logitRows.dropFirst()).allSatisfy { $1 == $0 + 1 }
        let input: UnsafeMutablePointer<Float>
        if contiguous {
            input = normalized + logitRows[0] * d
        } else {
            input = workspace.sublayerOut
            for (index, row) in logitRows.enumerated() {
                (input + index * d).update(from: normalized + row * d, count: d)
            }
        }
        // Only some token ids: their rows of the LM head, decoded into a small matrix.
        let head = vocabulary.map { ids -> WeightMatrix in
            let rows = [Float](unsafeUninitializedCapacity: ids.count * d) { buffer, initialized in
                for (index, id) in ids.enumerated() {
                    model.weights.lmHead.decodeRow(id, into: buffer.baseAddress! + index * d)
                }
                initialized = ids.count * d
            }
            return WeightMatrix(float32: rows, rows: ids.count, columns: d)
        } ?? model.weights.lmHead
        let columns = head.rows
        return [Float](unsafeUninitializedCapacity: logitRows.count * columns) { buffer, initialized in
            head.multiply(input, rows: logitRows.count, into: buffer.baseAddress!, ldc: columns)
            initialized = logitRows.count * columns
        }
    }
}

/// Scratch rows for one pass, in one allocation.
private struct Workspace {
    let residual: UnsafeMutablePointer<Float>
    let normalized: UnsafeMutablePointer<Float>
    let qkv: UnsafeMutablePointer<Float>
    let z: UnsafeMutablePointer<Float>
    let sublayerOut: UnsafeMutablePointer<Float>
    /// SwiGLU's gate and up, [rows, 2F].
    let mlpWide: UnsafeMutablePointer<Float>
    /// The MLP's hidden activations, [rows, F].
    let mlpHidden: UnsafeMutablePointer<Float>
    private let base: UnsafeMutablePointer<Float>

    init(config: ModelConfig, rows: Int, hiddenWidth: Int) {
        let d = config.dModel, qDim = config.nHeads * config.dHead
        let sizes = [d, d, qDim + 2 * config.nKVHeads * config.dHead, qDim, d, 2 * hiddenWidth, hiddenWidth].map { $0 * rows }
        base = .allocate(capacity: sizes.reduce(0, +))
        var offsets: [Int] = []
        var offset = 0
        for size in sizes {
            offsets.append(offset)
            offset += size
        }
        residual = base + offsets[0]
        normalized = base + offsets[1]
        qkv = base + offsets[2]
        z = base + offsets[3]
        sublayerOut = base + offsets[4]
        mlpWide = base + offsets[5]
        mlpHidden = base + offsets[6]
    }

    func deallocate() { base.deallocate() }
}
