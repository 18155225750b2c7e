/// A seeded pseudo-random stream (xoshiro256**, seeded through SplitMix64).
///
/// Our own arithmetic throughout, bounded integers and shuffles included: the standard library's
/// `random(in:using:)` and `shuffle(using:)` may change between Swift versions, and a seed must
/// give the same file byte for byte everywhere.
struct SeededRandom {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// A stream keyed by several numbers (seed, family, cell, index): each key gives an
    /// independent stream, so one cell's samples do not depend on which other cells are made.
    init(key: [UInt64]) {
        var mixer = SplitMix64(seed: 0x5153_4B50_524F_4245)  // "QSKPROBE"
        for part in key {
            mixer = SplitMix64(seed: mixer.next() ^ part)
        }
        state = (mixer.next(), mixer.next(), mixer.next(), mixer.next())
    }

    /// The raw generator state, to check the stream against published reference outputs.
    init(state: (UInt64, UInt64, UInt64, UInt64)) {
        self.state = state
    }

    mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    /// A uniform integer in 0..<bound, by rejection (no modulo bias).
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "empty range")
        let limit = UInt64(bound)
        let threshold = (0 &- limit) % limit  // 2^64 mod bound
        while true {
            let value = next()
            if value >= threshold { return Int(value % limit) }
        }
    }

    mutating func coin() -> Bool { next() >> 63 == 1 }

    mutating func element<T>(of items: [T]) -> T {
        items[below(items.count)]
    }

    /// Fisher-Yates.
    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for index in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(index, below(index + 1))
        }
    }

    /// Removes and returns a random element.
    mutating func take<T>(from items: inout [T]) -> T {
        items.remove(at: below(items.count))
    }

    private func rotateLeft(_ value: UInt64, _ amount: UInt64) -> UInt64 {
        (value << amount) | (value >> (64 - amount))
    }
}

/// Steele, Lea and Flood's SplitMix64: spreads a seed into well-mixed 64-bit words. Public so
/// that every seeded choice in qkprobe (datasets here, run splits in Selection) uses one generator.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
