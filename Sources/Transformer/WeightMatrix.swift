import ModelFormats

/// How a model keeps its weight matrices: as the file stores them (memory-mapped, decoded a panel
/// at a time inside each product), or decoded once to float32 at load. Both give the same numbers
/// bit for bit: a product runs the same `sgemm` calls on the same panel shapes either way.
public enum WeightStorage: String, Sendable, CaseIterable {
    /// The file's own form (Q4_K, BF16, ...), mapped: memory about the file's size.
    case stored
    /// Everything decoded to float32 at load: four bytes a weight, no decoding per pass.
    case float32
    /// float32 when the matrices decode to at most `automaticFloat32Bytes`, else stored: a small
    /// model's pass skips its decoding (a short prompt spends a large share of it there) for
    /// little memory, and a large model still fits.
    case automatic = "auto"

    /// The float32 size up to which `automatic` decodes at load.
    public static let automaticFloat32Bytes = 1 << 30

    /// `stored` or `float32`: what this choice means for matrices of `float32Bytes` once decoded.
    public func resolved(float32Bytes: Int) -> WeightStorage {
        guard self == .automatic else { return self }
        return float32Bytes <= Self.automaticFloat32Bytes ? .float32 : .stored
    }
}

/// A [rows, columns] weight matrix (rows are outputs, as `torch.nn.Linear` stores them).
///
/// Stored matrices are a list of row segments, each a run of rows of one file tensor: fusing
/// q/k/v or gate/up concatenates segments, and llama.cpp's Q/K row permutation is undone by
/// mapping rows as they are decoded. Nothing is copied at load.
struct WeightMatrix: @unchecked Sendable {
    let rows: Int
    let columns: Int
    private let storage: Storage

    private enum Storage {
        case float32([Float])
        case stored([RowSegment])
    }

    /// Consecutive logical rows `firstRow ..< firstRow + rows` taken from one stored tensor.
    struct RowSegment {
        let tensor: StoredTensor
        let firstRow: Int
        let rows: Int
        let rowBytes: Int
        /// Set for GGUF q/k of llama.cpp's Llama layout: rows of each head of this size were interleaved.
        let permutedHeadSize: Int?

        /// The stored row holding logical row `row` of this segment.
        func storedRow(_ row: Int) -> Int {
            guard let headSize = permutedHeadSize else { return row }
            // llama.cpp's `permute` put HF row t·half + j of a head at stored row 2j + t.
            let half = headSize / 2, head = row / headSize, inHead = row % headSize
            return head * headSize + 2 * (inHead % half) + inHead / half
        }

        func rowPointer(_ row: Int) -> UnsafeRawPointer {
            tensor.bytes.baseAddress! + storedRow(row) * rowBytes
        }
    }

    init(float32 values: [Float], rows: Int, columns: Int) {
        precondition(values.count == rows * columns)
        self.rows = rows
        self.columns = columns
        storage = .float32(values)
    }

    /// Rows of stored tensors, in order; each tensor is [rows, columns] (checked by the reader).
    init(stacking parts: [(tensor: StoredTensor, permutedHeadSize: Int?)], columns: Int) {
        var segments: [RowSegment] = []
        var first = 0
        for (tensor, headSize) in parts {
            let rows = tensor.shape.count == 1 ? 1 : tensor.shape[0]
            segments.append(RowSegment(tensor: tensor, firstRow: first, rows: rows, rowBytes: tensor.rowBytes,
                                       permutedHeadSize: headSize))
            first += rows
        }
        rows = first
        self.columns = columns
        storage = .stored(segments)
    }

    /// Several matrices of the same width, one under the other (the fused q/k/v, gate/up).
    static func stacking(_ parts: [WeightMatrix]) -> WeightMatrix {
        let columns = parts[0].columns
        var segments: [(tensor: StoredTensor, permutedHeadSize: Int?)] = []
        var allStored = true
        for part in parts {
            guard case let .stored(own) = part.storage else {
                allStored = false
                break
            }
            segments += own.map { (tensor: $0.tensor, permutedHeadSize: $0.permutedHeadSize) }
        }
        if allStored { return WeightMatrix(stacking: segments, columns: columns) }
        return WeightMatrix(float32: parts.flatMap { $0.float32Values() }, rows: parts.reduce(0) { $0 + $1.rows },
                            columns: columns)
    }

    /// The same matrix decoded to float32 (a no-op for one that already is).
    func decodedToFloat32() -> WeightMatrix {
        if case .float32 = storage { return self }
        return WeightMatrix(float32: float32Values(), rows: rows, columns: columns)
    }

    /// Whether the rows are kept as stored.
    var isStored: Bool {
        if case .stored = storage { return true }
        return false
    }

    /// Every value, row-major.
    func float32Values() -> [Float] {
        switch storage {
        case let .float32(values): return values
        case .stored:
            return [Float](unsafeUninitializedCapacity: rows * columns) { buffer, initialized in
                let destination = buffer.baseAddress!
                Kernels.forEachChunk(of: rows, minimumChunk: 256) { range in
                    decodeRows(range, into: destination + range.lowerBound * columns)
                }
                initialized = rows * columns
            }
        }
    }

    /// Row `row` as float32 into `destination` (`columns` floats): embedding look-ups, the LM
    /// head's chosen columns.
    func decodeRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
        decodeRows(row ..< row + 1, into: destination)
    }

    /// Rows `range`, one after another, into `destination`.
    func decodeRows(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        switch storage {
        case let .float32(values):
            values.withUnsafeBufferPointer { all in
                destination.update(from: all.baseAddress! + range.lowerBound * columns, count: range.count * columns)
            }
        case let .stored(segments):
            // Segment by segment: rows of a segment lie one after another in its tensor (unless
            // permuted), so they decode in one call.
            var row = range.lowerBound, output = destination
            for segment in segments where row < range.upperBound && row < segment.firstRow + segment.rows {
                let end = min(range.upperBound, segment.firstRow + segment.rows)
                if segment.permutedHeadSize == nil {
                    segment.tensor.type.decode(segment.rowPointer(row - segment.firstRow), count: (end - row) * columns,
                                               into: output)
                } else {
                    for (offset, inSegment) in (row - segment.firstRow ..< end - segment.firstRow).enumerated() {
                        segment.tensor.type.decode(segment.rowPointer(inSegment), count: columns, into: output + offset * columns)
                    }
                }
                output += (end - row) * columns
                row = end
            }
        }
    }

    /// The most a core decodes at once: 4 MiB of float32, whole 16-row groups. Larger panels
    /// mean fewer sgemm calls, and each call packs the whole input again.
    static func maximumPanelRows(columns: Int) -> Int {
        max(16, (1 << 20) / max(columns, 1) / 16 * 16)
    }

    /// Multiply-adds below which a product stays on one core.
    private static let parallelWork = 1 << 20

    /// The panels of a product: each core's even share of the output columns (W's rows) in whole
    /// 16-row groups, cut into equal panels of at most `maximumPanelRows`. The cuts depend on the
    /// thread count (a run records it), never on how the weights are kept.
    /// `multiplyAdds` is the work the cores share, `m · n · k` unless the product does more per
    /// column (a gated product's two halves).
    static func panels(rows n: Int, columns k: Int, inputRows m: Int, multiplyAdds: Int? = nil) -> [[Range<Int>]] {
        let groups = (n + 15) / 16
        let chunks = min(Kernels.coreCount, groups, max(1, (multiplyAdds ?? m * n * k) / parallelWork))
        let maximum = maximumPanelRows(columns: k)
        return (0 ..< chunks).map { chunk in
            let first = groups * chunk / chunks * 16, end = min(n, groups * (chunk + 1) / chunks * 16)
            let count = (end - first + maximum - 1) / maximum
            let size = ((end - first + count - 1) / count + 15) / 16 * 16
            return stride(from: first, to: end, by: size).map { $0 ..< min($0 + size, end) }
        }
    }

    /// `y = x · Wᵀ` for `m` rows of `columns` floats into `m` rows of `rows` floats, `ldc` apart.
    ///
    /// Each core takes its panels (`panels`) and, for each, decodes the panel's rows into its own
    /// scratch (stored weights) or reads them in place (float32), then calls sgemm on that panel:
    /// the same calls, on the same shapes, in both cases.
    func multiply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, rows > 0 else { return }
        let k = columns
        let chunks = Self.panels(rows: rows, columns: k, inputRows: m)
        shareOverCores(chunks) { chunk, read in
            for panel in chunks[chunk] {
                BLAS.gemm(m: m, n: panel.count, k: k, x, lda: k, read(panel), ldb: k, transposeB: true,
                          y + panel.lowerBound, ldc: ldc)
            }
        }
    }

    /// The gated MLP's product and activation in one step: this matrix is [gate; up], each
    /// [F, columns]. Each core takes its share of the F hidden units (`panels` of F), computes their
    /// gate columns and their up columns into `wide` ([m, 2F]: gate, then up), and then calls
    /// `activate(units)` on them while they are in its cache: no hand-off between the cores and no
    /// second pass over `wide`. The dot products are those of `multiply`, in calls half as wide,
    /// whose last bits OpenBLAS may round differently; stored and float32 weights still make the
    /// same calls.
    func multiplyGated(_ x: UnsafePointer<Float>, rows m: Int, into wide: UnsafeMutablePointer<Float>,
                       then activate: (Range<Int>) -> Void) {
        let hidden = rows / 2, k = columns
        guard m > 0, hidden > 0 else { return }
        let chunks = Self.panels(rows: hidden, columns: k, inputRows: m, multiplyAdds: m * rows * k)
        shareOverCores(chunks) { chunk, read in
            for units in chunks[chunk] {
                for half in [0, hidden] {
                    BLAS.gemm(m: m, n: units.count, k: k, x, lda: k, read(half + units.lowerBound ..< half + units.upperBound),
                              ldb: k, transposeB: true, wide + half + units.lowerBound, ldc: rows)
                }
                activate(units)
            }
        }
    }

    /// Runs `body(chunk, read)` for each of `chunks` on the cores, where `read(rows)` gives rows of
    /// this matrix in float32: in place, or for stored weights decoded into the core's own scratch
    /// (valid until its next call), so that both make the same sgemm calls.
    private func shareOverCores(_ chunks: [[Range<Int>]],
                                _ body: (_ chunk: Int, _ read: (Range<Int>) -> UnsafePointer<Float>) -> Void) {
        switch storage {
        case let .float32(values):
            values.withUnsafeBufferPointer { w in
                let base = w.baseAddress!, k = columns
                Kernels.parallelFor(chunks.count) { chunk in
                    body(chunk) { base + $0.lowerBound * k }
                }
            }
        case .stored:
            Kernels.parallelFor(chunks.count) { chunk in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: (chunks[chunk].map(\.count).max() ?? 0) * columns)
                defer { scratch.deallocate() }
                body(chunk) { rows in
                    decodeRows(rows, into: scratch)
                    return UnsafePointer(scratch)
                }
            }
        }
    }

    /// Whether both are the same memory (a tied LM head): the same stored rows, so decoding one
    /// serves both, or the same float32 buffer.
    func sharesStorage(with other: WeightMatrix) -> Bool {
        switch (storage, other.storage) {
        case let (.stored(mine), .stored(theirs)):
            return mine.count == theirs.count
                && zip(mine, theirs).allSatisfy { $0.tensor.bytes.baseAddress == $1.tensor.bytes.baseAddress && $0.rows == $1.rows }
        case let (.float32(mine), .float32(theirs)):
            return mine.count == theirs.count && mine.withUnsafeBufferPointer { a in theirs.withUnsafeBufferPointer { a.baseAddress == $0.baseAddress } }
        default:
            return false
        }
    }

    /// Bytes this matrix keeps on the heap (stored rows live in the file's mapping instead).
    var heapBytes: Int {
        if case let .float32(values) = storage { return values.count * 4 }
        return 0
    }
}
