/// The byte-level BPE families, named as GGUF's `tokenizer.ggml.pre` names them, each with the
/// normalizer and pre-tokenizer of its original Hugging Face tokenizer.json.
enum PreTokenizerFamily: String, Sendable, CaseIterable {
    /// SmolLM, SmolLM2: every digit alone, then GPT-2's pattern.
    case smollm
    case gpt2 = "gpt-2"
    /// Llama 3: its own pattern, numbers in groups of up to three, whole-word tokens before merges.
    case llama3 = "llama-bpe"
    /// Qwen2: NFC, then Llama 3's pattern with single digits.
    case qwen2

    /// Other spellings llama.cpp accepts for the same pre-tokenizer.
    private static let aliases: [String: PreTokenizerFamily] = ["llama3": .llama3, "llama-v3": .llama3]

    init?(ggufName: String) {
        guard let family = PreTokenizerFamily(rawValue: ggufName) ?? Self.aliases[ggufName] else { return nil }
        self = family
    }

    /// The family whose pipeline this is, if any.
    init?(normalizer: Normalizer?, preTokenizer: PreTokenizer) {
        guard let family = Self.allCases.first(where: {
            $0.normalizer == normalizer && $0.preTokenizer.steps == preTokenizer.steps
        }) else { return nil }
        self = family
    }

    var normalizer: Normalizer? { self == .qwen2 ? .nfc : nil }

    var preTokenizer: PreTokenizer {
        switch self {
        case .smollm:
            return .sequence([.digits(individual: true), .byteLevel(addPrefixSpace: false, useRegex: true)])
        case .gpt2:
            return .byteLevel(addPrefixSpace: false, useRegex: true)
        case .llama3:
            return .sequence([.split(.llama3), .byteLevel(addPrefixSpace: false, useRegex: false)])
        case .qwen2:
            return .sequence([.split(.qwen2), .byteLevel(addPrefixSpace: false, useRegex: false)])
        }
    }

    var ignoresMerges: Bool { self == .llama3 }
}
