import Foundation

/// The values of one stored dataset.
public enum StoredValues: Sendable {
    case float32([Float])
    case float64([Double])
    case int32([Int32])
    case strings([String])

    var count: Int {
        switch self {
        case .float32(let v): v.count
        case .float64(let v): v.count
        case .int32(let v): v.count
        case .strings(let v): v.count
        }
    }
}

/// One dataset of a result file, at a path such as "/ablation/clean_logit", with the names of
/// its dimensions (stored as the string attribute `dimensions`, comma-separated, as xarray
/// users name them: "sample,option").
public struct StoredDataset: Sendable {
    public var path: String
    public var shape: [Int]
    public var values: StoredValues
    public var dimensions: [String]
    public var attributes: [String: String]

    public init(_ path: String, shape: [Int], _ values: StoredValues, dimensions: [String], attributes: [String: String] = [:]) {
        self.path = path
        self.shape = shape
        self.values = values
        self.dimensions = dimensions
        self.attributes = attributes
    }
}

/// An HDF5 file written once, whole, by a command that computes everything first (`ablate`,
/// `scan`): groups made as the paths need them, string attributes on the root. Written to a
/// temporary name and renamed, so a killed command leaves no half file under the real name.
public enum ResultFile {
    public static func write(_ datasets: [StoredDataset], to url: URL, attributes: [String: String], overwrite: Bool) throws {
        let path = url.path
        if FileManager.default.fileExists(atPath: path), !overwrite {
            throw RunStoreError(path, "exists; pass --force to replace it")
        }
        for dataset in datasets {
            let parts = dataset.path.split(separator: "/")
            guard dataset.path.hasPrefix("/"), !parts.isEmpty, !parts.contains(where: { $0 == "." || $0 == ".." }) else {
                throw RunStoreError(path, "dataset path '\(dataset.path)' must be absolute and plain")
            }
            guard let count = elementCount(dataset.shape), count == dataset.values.count else {
                throw RunStoreError(path, "dataset \(dataset.path): shape \(dataset.shape) does not hold \(dataset.values.count) values")
            }
            guard dataset.dimensions.count == dataset.shape.count else {
                throw RunStoreError(path, "dataset \(dataset.path): \(dataset.dimensions.count) dimension names for \(dataset.shape.count) dimensions")
            }
        }
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        try? FileManager.default.removeItem(at: temporary)
        do {
            let file = try H5File.create(temporary.path)
            for (name, value) in attributes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(name, value) }
            var groups: Set<String> = []
            for dataset in datasets {
                let parts = dataset.path.split(separator: "/").dropLast()
                var group = ""
                for part in parts {
                    group += "/" + part
                    if groups.insert(group).inserted { try file.createGroup(group) }
                }
                let element: H5Element, storage: H5Storage
                switch dataset.values {
                case .float32: (element, storage) = (.scalar(Float.self), .preallocated(fill: H5Fill(Float(0))))
                case .float64: (element, storage) = (.scalar(Double.self), .preallocated(fill: H5Fill(Double(0))))
                case .int32: (element, storage) = (.scalar(Int32.self), .preallocated(fill: H5Fill(Int32(0))))
                case .strings:
                    guard dataset.shape.count == 1, dataset.shape[0] > 0 else {
                        throw RunStoreError(path, "dataset \(dataset.path): strings are stored as a non-empty list")
                    }
                    (element, storage) = (.utf8String, .compressed(rowsPerChunk: dataset.shape[0]))
                }
                let stored = try file.createDataset(dataset.path, element: element, shape: dataset.shape, storage: storage)
                switch dataset.values {
                case .float32(let v): try stored.write(v)
                case .float64(let v): try stored.write(v)
                case .int32(let v): try stored.write(v)
                case .strings(let v): try stored.writeStrings(v)
                }
                try stored.setAttribute("dimensions", dataset.dimensions.joined(separator: ","))
                for (name, value) in dataset.attributes.sorted(by: { $0.key < $1.key }) { try stored.setAttribute(name, value) }
            }
            try file.flush()
        }
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(at: url) }
        try FileManager.default.moveItem(at: temporary, to: url)
    }
}

/// Reads back what `ResultFile` or `TraceFile` wrote: datasets by path, their axis names, root string attributes.
public final class ResultFileReader {
    public let url: URL
    private let file: H5File

    public init(url: URL) throws {
        self.url = url
        file = try H5File.open(url.path, writable: false)
    }

    public func has(_ path: String) throws -> Bool { try file.exists(path) }

    /// A root string attribute, or nil when there is none.
    public func attribute(_ name: String) throws -> String? {
        try file.hasAttribute(name) ? try file.stringAttribute(name) : nil
    }

    /// A dataset of numbers as doubles, with its shape.
    public func numbers(_ path: String) throws -> (shape: [Int], values: [Double]) {
        let dataset = try file.openDataset(path)
        try dataset.ensureReadable(dataset.count, 8, path)
        return (dataset.shape, try dataset.read(as: Double.self))
    }

    /// A dataset of numbers as float32 (as `trace --dataset` stores activations), with its shape.
    public func floats(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let dataset = try file.openDataset(path)
        try dataset.ensureReadable(dataset.count, 4, path)
        return (dataset.shape, try dataset.read(as: Float.self))
    }

    /// A one-dimensional dataset of strings.
    public func strings(_ path: String) throws -> [String] {
        try file.openDataset(path).readStrings()
    }

    /// A one-dimensional dataset of variable-length int32 sequences (token ids).
    public func int32Sequences(_ path: String) throws -> [[Int32]] {
        try file.openDataset(path).readInt32Sequences()
    }

    /// The names of a dataset's axes, from its `dimensions` attribute; nil when it has none.
    public func dimensions(_ path: String) throws -> [String]? {
        let dataset = try file.openDataset(path)
        guard try dataset.hasAttribute("dimensions") else { return nil }
        return try dataset.stringAttribute("dimensions").split(separator: ",").map(String.init)
    }
}
