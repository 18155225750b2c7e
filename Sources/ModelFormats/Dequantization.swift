import Dispatch
import VectorKernels

// Decoders from ggml's block formats to float32. Each one follows the arithmetic of gguf-py's
// `gguf.quants` step for step (same float32 products and sums, in the same order), so results
// match it bit for bit. Inner loops use raw pointers because they run over every weight of a
// model at load time, debug builds included.

extension GGMLType {
    /// Whether `dequantize(_:into:)` can decode this type.
    public var canDequantize: Bool {
        switch self {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K: true
        default: false
        }
    }

    /// Decodes whole blocks of this type from `source` into `destination`.
    /// The caller has checked the sizes: `source` holds exactly `destination.count / blockLayout.elements`
    /// blocks (a programming error otherwise, hence a precondition rather than a thrown error).
    public func dequantize(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>) {
        let (blockElements, blockBytes) = blockLayout
        precondition(canDequantize, "no decoder for \(self)")
        precondition(destination.count % blockElements == 0
                     && source.count == destination.count / blockElements * blockBytes,
                     "\(self): \(source.count) bytes do not hold \(destination.count) elements")
        guard let src = source.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let dst = destination.baseAddress else { return }
        let decode = blockDecoder
        let blocks = destination.count / blockElements
        // Big tensors are cut into chunks decoded on all cores; small ones are not worth a thread hop.
        let blocksPerChunk = max(1, (1 << 16) / blockElements)
        let chunks = (blocks + blocksPerChunk - 1) / blocksPerChunk
        if chunks <= 1 {
            decode(src, dst, blocks)
            return
        }
        let buffers = DisjointChunks(source: src, destination: dst)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let first = chunk * blocksPerChunk
            let count = min(blocksPerChunk, blocks - first)
            decode(buffers.source + first * blockBytes, buffers.destination + first * blockElements, count)
        }
    }

    /// Decodes `count` elements (whole blocks) from `source` on the calling thread: a row or a few
    /// rows of a matrix, decoded as the whole tensor would be, bit for bit.
    @inline(__always)
    public func decode(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        blockDecoder(source.assumingMemoryBound(to: UInt8.self), destination, count / blockLayout.elements)
    }

    /// Decodes `blocks` consecutive blocks from `src` to `dst`.
    var blockDecoder: @Sendable (UnsafePointer<UInt8>, UnsafeMutablePointer<Float>, Int) -> Void {
        switch self {
        case .f32: decodeF32
        case .f16: decodeF16
        case .bf16: decodeBF16
        case .q4_0: decodeQ4_0
        case .q4_1: decodeQ4_1
        case .q5_0: decodeQ5_0
        case .q5_1: decodeQ5_1
        case .q8_0: decodeQ8_0
        case .q4_K: decodeQ4_K
        case .q5_K: decodeQ5_K
        case .q6_K: decodeQ6_K
        default: preconditionFailure("no decoder for \(self)")
        }
    }
}

/// The buffers of one dequantisation, shared by worker threads that read the (immutable) source
/// and write disjoint chunks of the destination, which is why sharing them is safe.
private struct DisjointChunks: @unchecked Sendable {
    let source: UnsafePointer<UInt8>
    let destination: UnsafeMutablePointer<Float>
}

// MARK: - Half precision

/// IEEE 754 binary16 to binary32; exact for every input (NaN payloads are kept, like numpy).
@inline(__always)
func floatFromHalfBits(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    }
    if exponent == 0 {
        // Zero or subnormal: mantissa * 2^-24 is exact in binary32.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
}

/// All 65536 half values, so hot loops decode a scale with one load.
private let halfTable: [Float] = (0 ... 0xFFFF).map { floatFromHalfBits(UInt16($0)) }

/// The little-endian half at `p` (any alignment), as float32.
@inline(__always)
private func half(_ p: UnsafePointer<UInt8>, _ table: UnsafePointer<Float>) -> Float {
    table[Int(p[0]) | Int(p[1]) << 8]
}

@inline(__always)
private func withHalfTable(_ body: (UnsafePointer<Float>) -> Void) {
    halfTable.withUnsafeBufferPointer { body($0.baseAddress!) }
}

// MARK: - Plain floats

private func decodeF32(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
    UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
}

private func decodeF16(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
    withHalfTable { table in
        for i in 0 ..< count { dst[i] = half(src + 2 * i, table) }
    }
}

private func decodeBF16(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
    for i in 0 ..< count {
        let bits = UInt32(src[2 * i]) | UInt32(src[2 * i + 1]) << 8
        dst[i] = Float(bitPattern: bits << 16)
    }
}

// MARK: - 32-element blocks

/// Q4_0: f16 scale d, 16 bytes of nibbles (low nibbles are elements 0-15, high 16-31); x = d * (q - 8).
/// The three block types of the default model decode in VectorKernels, at the CPU's vector width.
private func decodeQ4_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    withHalfTable { qk_decode_q4_0(src, dst, blocks, $0) }
}

/// Q4_1: f16 scale d, f16 minimum m, 16 bytes of nibbles; x = d * q + m (a product, then a sum,
/// never fused: the bits of gguf-py's float32 arithmetic).
private func decodeQ4_1(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    withHalfTable { qk_decode_q4_1(src, dst, blocks, $0) }
}

/// The fifth bits of a Q5 block: bit j of a little-endian u32 belongs to element j.
@inline(__always)
private func highBits(_ p: UnsafePointer<UInt8>) -> UInt32 {
    UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
}

/// Q5_0: f16 d, 32 high bits, 16 bytes of low nibbles; x = d * (q - 16).
private func decodeQ5_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    withHalfTable { table in
        for b in 0 ..< blocks {
            let block = src + b * 22, out = dst + b * 32
            let d = half(block, table)
            let qh = highBits(block + 2)
            let qs = block + 6
            for j in 0 ..< 16 {
                let low = Int(qs[j] & 0x0F) | Int((qh >> UInt32(j)) & 1) << 4
                let high = Int(qs[j] >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                out[j] = d * Float(low - 16)
                out[j + 16] = d * Float(high - 16)
            }
        }
    }
}

/// Q5_1: f16 d, f16 m, 32 high bits, 16 bytes of low nibbles; x = d * q + m.
private func decodeQ5_1(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    withHalfTable { table in
        for b in 0 ..< blocks {
            let block = src + b * 24, out = dst + b * 32
            let d = half(block, table), m = half(block + 2, table)
            let qh = highBits(block + 4)
            let qs = block + 8
            for j in 0 ..< 16 {
                let low = UInt32(qs[j] & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
                let high = UInt32(qs[j] >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
                out[j] = d * Float(low) + m
                out[j + 16] = d * Float(high) + m
            }
        }
    }
}

/// Q8_0: f16 d, 32 signed bytes; x = q * d.
private func decodeQ8_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    withHalfTable { qk_decode_q8_0(src, dst, blocks, $0) }
}

// MARK: - K-quants (256-element super-blocks)

/// Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales and minimums, 128 bytes of nibbles. Each
/// 32-byte run of nibbles holds two sub-blocks (low nibbles first); x = (d * scale) * q - (dmin * min).
private func decodeQ4_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    withHalfTable { qk_decode_q4_k(src, dst, blocks, $0) }
}

/// Q5_K: like Q4_K with 32 bytes of fifth bits before the nibbles: bit `sub` of byte l is the
/// fifth bit of element l of sub-block `sub`.
private func decodeQ5_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    withHalfTable { qk_decode_q5_k(src, dst, blocks, $0) }
}

/// Q6_K: 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 signed 8-bit scales, f16 d.
/// Each half (128 elements) takes its low nibbles from 64 bytes (low nibbles for elements 0-63,
/// high for 64-127) and its top bits from 32 bytes (2 bits per 32 elements);
/// x = (d * scale[i / 16]) * (q - 32).
private func decodeQ6_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    withHalfTable { qk_decode_q6_k(src, dst, blocks, $0) }
}
