import Foundation

/// A parsed Hugging Face `config.json`, with typed look-ups whose errors name the file and key.
/// What the keys mean is each model family's business (Transformer); this only reads the file.
public struct HFConfig {
    public let path: String
    public let object: [String: Any]

    public init(url: URL) throws {
        path = url.path
        let data = try RegularFile.contents(of: url)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelFormatError(url.path, "not a JSON object")
        }
        self.object = object
    }

    public init(path: String, object: [String: Any]) {
        self.path = path
        self.object = object
    }

    /// Whether `key` is present with a non-null value.
    public func has(_ key: String, in dictionary: [String: Any]? = nil) -> Bool {
        guard let raw = (dictionary ?? object)[key] else { return false }
        return !(raw is NSNull)
    }

    public func int(_ key: String, in dictionary: [String: Any]? = nil) throws -> Int {
        guard let value = try optionalInt(key, in: dictionary) else { throw ModelFormatError(path, "missing key \(key)") }
        return value
    }

    /// JSON numbers arrive as NSNumber; accept integral values that fit in Int only, and reject booleans.
    public func optionalInt(_ key: String, in dictionary: [String: Any]? = nil) throws -> Int? {
        guard let raw = (dictionary ?? object)[key], !(raw is NSNull) else { return nil }
        guard let number = raw as? NSNumber, !isJSONBool(number) else {
            throw ModelFormatError(path, "key \(key) is \(raw), expected an integer")
        }
        let double = number.doubleValue
        // Int(exactly:) traps on values beyond Int's range in some toolchains' bridging; bound first.
        guard double.isFinite, double.rounded() == double, abs(double) < 9.2e18, let value = Int(exactly: double) else {
            throw ModelFormatError(path, "key \(key) is \(raw), expected an integer")
        }
        return value
    }

    public func optionalFloat(_ key: String, in dictionary: [String: Any]? = nil) throws -> Float? {
        try optionalDouble(key, in: dictionary).map(Float.init)
    }

    public func optionalDouble(_ key: String, in dictionary: [String: Any]? = nil) throws -> Double? {
        guard let raw = (dictionary ?? object)[key], !(raw is NSNull) else { return nil }
        guard let number = raw as? NSNumber, !isJSONBool(number) else {
            throw ModelFormatError(path, "key \(key) is \(raw), expected a number")
        }
        return number.doubleValue
    }

    public func optionalBool(_ key: String, in dictionary: [String: Any]? = nil) throws -> Bool? {
        guard let raw = (dictionary ?? object)[key], !(raw is NSNull) else { return nil }
        guard let number = raw as? NSNumber, isJSONBool(number) else {
            throw ModelFormatError(path, "key \(key) is \(raw), expected true or false")
        }
        return number.boolValue
    }

    public func optionalString(_ key: String, in dictionary: [String: Any]? = nil) throws -> String? {
        guard let raw = (dictionary ?? object)[key], !(raw is NSNull) else { return nil }
        guard let string = raw as? String else {
            throw ModelFormatError(path, "key \(key) is \(raw), expected a string")
        }
        return string
    }

    /// A nested object such as `rope_scaling`; nil when absent or null.
    public func optionalObject(_ key: String) throws -> [String: Any]? {
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        guard let dictionary = raw as? [String: Any] else {
            throw ModelFormatError(path, "key \(key) is \(raw), expected an object")
        }
        return dictionary
    }

    /// An integer or a list of integers (`eos_token_id` may be either).
    public func optionalInts(_ key: String) throws -> [Int]? {
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        if let list = raw as? [Any] {
            return try list.map { element in
                try HFConfig(path: path, object: [key: element]).int(key)
            }
        }
        return try optionalInt(key).map { [$0] }
    }
}
