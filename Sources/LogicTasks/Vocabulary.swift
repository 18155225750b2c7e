/// The words generated problems are made of.
///
/// Concepts are invented nouns, so a model cannot answer from world knowledge ("every wug is a
/// blicket"). Properties are plain adjectives with no antonym, synonym or exclusive group (no
/// two colours, no hot and cold) among them, so no pair of them implies anything about the other.
enum Vocabulary {
    static let concepts = [
        "blicket", "dax", "wug", "zorb", "glimmet", "fendle", "quorp", "snib", "trellow", "vorn",
        "plonket", "grimble", "tazzle", "murp", "skrell", "yoggle", "drelm", "fizzet", "kwib", "lunter",
        "obbit", "ulmo", "ezzle", "impet", "nurgle", "pemble", "rasket", "sollow", "thwomp", "vemmet",
        "wimble", "zandle", "dreeb", "hask", "jibbet", "kesp", "lorf", "mibble", "norp", "pibble",
        "quandle", "roob", "strom", "tibbet", "oppet", "yalp", "zeffle", "brannock", "clemp", "doffet",
        "elbin", "frang", "gonnet", "hurple", "jaskel", "kroff", "mazzle", "nibbet", "prell", "wozzle",
    ]

    static let properties = [
        "bright", "cold", "loud", "sour", "shiny", "wooden", "heavy", "soft", "round", "sharp",
        "wet", "red", "small", "happy", "kind", "brave", "fierce", "rough", "bitter", "slow",
        "young", "thin", "cheap", "proud", "lazy", "wild", "fuzzy", "spicy", "salty", "bold",
        "rare", "sleepy", "striped", "hollow", "sticky", "dusty", "fragile", "furry", "muddy", "nervous",
        "polite",
    ]

    static let names = [
        "Alex", "Bella", "Cyrus", "Dana", "Emil", "Fay", "Gus", "Hana", "Ivo", "Juno",
        "Kai", "Lena", "Milo", "Nora", "Otto", "Pia", "Rex", "Sol", "Tara", "Uma",
        "Vic", "Wren", "Yara", "Zed", "Abel", "Cleo", "Dora", "Finn", "Greta", "Hugo",
    ]

    /// "a wug", "an obbit".
    static func withArticle(_ noun: String) -> String {
        let vowels: Set<Character> = ["a", "e", "i", "o", "u"]
        return (noun.first.map(vowels.contains) ?? false ? "an " : "a ") + noun
    }
}

/// Words drawn without replacement for one problem, so no word plays two roles in it.
struct WordPool {
    private var concepts = Vocabulary.concepts
    private var properties = Vocabulary.properties
    private var names = Vocabulary.names

    mutating func concept(_ random: inout SeededRandom) -> String { Self.draw(&concepts, &random, "concepts") }
    mutating func property(_ random: inout SeededRandom) -> String { Self.draw(&properties, &random, "properties") }
    mutating func name(_ random: inout SeededRandom) -> String { Self.draw(&names, &random, "names") }

    private static func draw(_ words: inout [String], _ random: inout SeededRandom, _ kind: String) -> String {
        // The generator's limits on steps and distractors keep every problem within the vocabulary.
        precondition(!words.isEmpty, "the vocabulary ran out of \(kind)")
        return random.take(from: &words)
    }
}
