import Foundation

/// BPE as Hugging Face's `BPE` model does it: a word's symbols merged pair by pair in the order of the
/// merge list (lowest rank first, leftmost first among equal ranks). The symbols are the word's bytes
/// spelled in the byte alphabet (byte-level BPE), or its characters (SentencePiece style), where a
/// character outside the vocabulary becomes its UTF-8 bytes as `<0xNN>` tokens (byte fallback).
struct BytePairModel: Sendable {
    enum Alphabet: Sendable, Equatable {
        /// GPT-2's byte alphabet: every byte is a token (see `ByteLevel`).
        case byteLevel
        /// Unicode characters; with `byteFallback`, one missing from the vocabulary becomes the
        /// `<0xNN>` tokens of its bytes (the unknown token where one of those is missing too).
        case characters(byteFallback: Bool)
    }

    /// A token of a word and the number of the word's bytes it covers.
    struct WordToken: Sendable, Equatable {
        var id: Int32
        var length: Int32
    }

    let vocabulary: [String: Int]
    let tokens: [Int: String]
    let alphabet: Alphabet
    /// Ids by the token's UTF-8, for lookups that must not equate canonically equivalent strings.
    private let exactIDs: [[UInt8]: Int]
    /// Byte-level: the token of each byte's spelling. Characters with byte fallback: the `<0xNN>`
    /// token of each byte. -1 where there is none.
    private let tokenForByte: [Int32]
    /// (left id << 32 | right id) -> (rank, merged id)
    private let merges: [UInt64: (rank: Int32, merged: Int32)]
    /// Llama 3: a word that is a token as a whole is that token, whatever the merges would give.
    let ignoreMerges: Bool
    /// The token for a byte that has none (with `fuseUnknown`, one for a run of such bytes); without it
    /// such bytes are dropped, as in Hugging Face.
    private let unknownID: Int32?
    private let fuseUnknown: Bool
    private let cache = WordCache()

    /// `tokens` are (token, id) pairs; where a string repeats, its last id is the one text maps to,
    /// as in Hugging Face's GGUF loader. `merges` are pairs of token strings in rank order.
    init(tokens: [(String, Int)], merges: [(String, String)], alphabet: Alphabet = .byteLevel, ignoreMerges: Bool = false,
         unknownToken: String? = nil, fuseUnknown: Bool = false, source: String) throws {
        guard !tokens.isEmpty else { throw TokenizerError(source, "the vocabulary is empty") }
        guard tokens.allSatisfy({ $0.1 >= 0 && $0.1 < Int32.max }) else {
            throw TokenizerError(source, "vocabulary ids must lie in 0..<\(Int32.max)")
        }
        var vocabulary: [String: Int] = [:]
        var tokensByID: [Int: String] = [:]
        vocabulary.reserveCapacity(tokens.count)
        tokensByID.reserveCapacity(tokens.count)
        for (token, id) in tokens {
            vocabulary[token] = id
            tokensByID[id] = token
        }
        // Swift's String equality is canonical equivalence ("é" == "e\u{301}"); tokens are compared
        // as Hugging Face compares them, scalar for scalar, by their UTF-8.
        var exactIDs: [[UInt8]: Int] = [:]
        exactIDs.reserveCapacity(tokens.count)
        for (token, id) in tokens { exactIDs[Array(token.utf8)] = id }
        var mergeTable: [UInt64: (rank: Int32, merged: Int32)] = [:]
        mergeTable.reserveCapacity(merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard let leftID = exactIDs[Array(left.utf8)], let rightID = exactIDs[Array(right.utf8)] else {
                throw TokenizerError(source, "merge \(rank) (\"\(left) \(right)\") uses a token that is not in the vocabulary")
            }
            guard let mergedID = exactIDs[Array(left.utf8) + Array(right.utf8)] else {
                throw TokenizerError(source, "merge \(rank) (\"\(left) \(right)\") makes a token that is not in the vocabulary")
            }
            // A repeated pair keeps its last rank, as in Hugging Face.
            mergeTable[UInt64(leftID) << 32 | UInt64(rightID)] = (Int32(rank), Int32(mergedID))
        }
        if let unknownToken, vocabulary[unknownToken] == nil {
            throw TokenizerError(source, "the unknown token \"\(unknownToken)\" is not in the vocabulary")
        }
        self.vocabulary = vocabulary
        self.exactIDs = exactIDs
        self.tokens = tokensByID
        self.alphabet = alphabet
        switch alphabet {
        case .byteLevel:
            self.tokenForByte = ByteLevel.scalarForByte.map { scalar in vocabulary[String(scalar)].map(Int32.init) ?? -1 }
        case .characters(let byteFallback):
            self.tokenForByte = (0..<256).map { byte in
                byteFallback ? exactIDs[Array(Self.byteToken(UInt8(byte)).utf8)].map(Int32.init) ?? -1 : -1
            }
        }
        self.merges = mergeTable
        self.ignoreMerges = ignoreMerges
        self.unknownID = unknownToken.flatMap { vocabulary[$0] }.map(Int32.init)
        self.fuseUnknown = fuseUnknown
    }

    /// SentencePiece's name for a byte, e.g. "<0x0A>".
    static func byteToken(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (byte < 16 ? "0" : "") + hex + ">"
    }

    /// The tokens of one pre-tokenized word, given as its UTF-8 bytes.
    func tokenize(_ word: [UInt8]) -> [WordToken] {
        if let cached = cache[word] { return cached }
        let pieces = merge(word)
        cache[word] = pieces
        return pieces
    }

    private func merge(_ word: [UInt8]) -> [WordToken] {
        if ignoreMerges, let id = alphabet == .byteLevel ? vocabulary[ByteLevel.spell(word)] : exactIDs[word] {
            return [WordToken(id: Int32(id), length: Int32(word.count))]
        }
        var symbols = initialSymbols(word)
        guard symbols.count > 1 else { return symbols.map { WordToken(id: $0.id, length: $0.length) } }

        var queue = MergeQueue()
        for index in 0..<(symbols.count - 1) {
            if let merge = mergeOf(symbols[index].id, symbols[index + 1].id) {
                queue.push(.init(rank: merge.rank, position: Int32(index), merged: merge.merged))
            }
        }
        while let top = queue.pop() {
            let position = Int(top.position)
            let left = symbols[position]
            // Skip entries made stale by earlier merges.
            guard left.length > 0, left.next >= 0 else { continue }
            let rightIndex = Int(left.next)
            let right = symbols[rightIndex]
            guard let merge = mergeOf(left.id, right.id), merge.merged == top.merged else { continue }

            symbols[position].id = top.merged
            symbols[position].length += right.length
            symbols[position].next = right.next
            symbols[rightIndex].length = 0
            if right.next >= 0 { symbols[Int(right.next)].previous = Int32(position) }

            let current = symbols[position]
            if current.previous >= 0, let merge = mergeOf(symbols[Int(current.previous)].id, current.id) {
                queue.push(.init(rank: merge.rank, position: current.previous, merged: merge.merged))
            }
            if current.next >= 0, let merge = mergeOf(current.id, symbols[Int(current.next)].id) {
                queue.push(.init(rank: merge.rank, position: Int32(position), merged: merge.merged))
            }
        }
        return symbols.filter { $0.length > 0 }.map { WordToken(id: $0.id, length: $0.length) }
    }

    private struct Symbol {
        var id: Int32
        var length: Int32
        var previous: Int32
        var next: Int32
    }

    private func initialSymbols(_ word: [UInt8]) -> [Symbol] {
        var symbols: [Symbol] = []
        symbols.reserveCapacity(word.count)
        func append(_ id: Int32, _ length: Int32) {
            let index = Int32(symbols.count)
            symbols.append(Symbol(id: id, length: length, previous: index - 1, next: index + 1))
        }
        // Without a token, a byte or character becomes the unknown token (one for a run of them with
        // `fuseUnknown`), or is dropped when there is none, as in Hugging Face.
        var lastWasUnknown = false
        func appendUnknown(_ length: Int32) {
            guard let unknownID else { return }
            if fuseUnknown && lastWasUnknown {
                symbols[symbols.count - 1].length += length
            } else {
                append(unknownID, length)
            }
            lastWasUnknown = true
        }
        switch alphabet {
        case .byteLevel:
            for byte in word {
                let id = tokenForByte[Int(byte)]
                if id >= 0 { append(id, 1); lastWasUnknown = false } else { appendUnknown(1) }
            }
        case .characters:
            var start = 0
            for scalar in String(decoding: word, as: UTF8.self).unicodeScalars {
                let width = UTF8.width(scalar)
                let bytes = word[start..<(start + width)]
                start += width
                if let id = exactIDs[Array(bytes)] {
                    append(Int32(id), Int32(width))
                    lastWasUnknown = false
                } else if bytes.allSatisfy({ tokenForByte[Int($0)] >= 0 }) {
                    for byte in bytes { append(tokenForByte[Int(byte)], 1) }
                    lastWasUnknown = false
                } else {
                    appendUnknown(Int32(width))
                }
            }
        }
        if !symbols.isEmpty { symbols[symbols.count - 1].next = -1 }
        return symbols
    }

    private func mergeOf(_ left: Int32, _ right: Int32) -> (rank: Int32, merged: Int32)? {
        merges[UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))]
    }
}

/// A binary min-heap of candidate merges ordered by rank, then by position.
private struct MergeQueue {
    struct Entry {
        var rank: Int32
        var position: Int32
        var merged: Int32

        func precedes(_ other: Entry) -> Bool {
            rank != other.rank ? rank < other.rank : position < other.position
        }
    }

    private var heap: [Entry] = []

    mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var first = parent
                if left < heap.count && heap[left].precedes(heap[first]) { first = left }
                if right < heap.count && heap[right].precedes(heap[first]) { first = right }
                if first == parent { break }
                heap.swapAt(parent, first)
                parent = first
            }
        }
        return top
    }
}

/// Words seen before and their tokens. Shared by copies of a tokenizer and safe across threads; it
/// only remembers results, so the tokenizer stays a value that behaves as immutable.
private final class WordCache: @unchecked Sendable {
    private var entries: [[UInt8]: [BytePairModel.WordToken]] = [:]
    private let lock = NSLock()
    private let capacity = 50_000

    subscript(word: [UInt8]) -> [BytePairModel.WordToken]? {
        get { lock.withLock { entries[word] } }
        set {
            lock.withLock {
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
                entries[word] = newValue
            }
        }
    }
}
