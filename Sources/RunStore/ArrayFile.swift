import Foundation

/// A float32 array to store as one dataset, with integer-array attributes of its own
/// (e.g. the token positions along its first axis).
public struct NamedArray: Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    public var integerAttributes: [String: [Int]]

    public init(name: String, shape: [Int], values: [Float], integerAttributes: [String: [Int]] = [:]) {
        self.name = name
        self.shape = shape
        self.values = values
        self.integerAttributes = integerAttributes
    }
}

/// An HDF5 file of named float32 datasets at its root, with attributes on the root: what
/// `qkprobe trace --output` writes, one dataset per hook (h5py: `f["blocks.3.attn.hook_q"][...]`).
/// Datasets are compressed (shuffle + deflate), little-endian.
public enum ArrayFile {
    public static func write(_ arrays: [NamedArray], to url: URL, stringAttributes: [String: String],
                             integerAttributes: [String: [Int]] = [:]) throws {
        let path = url.path
        for array in arrays {
            guard !array.name.isEmpty, !array.name.contains("/") else {
                throw RunStoreError(path, "dataset name '\(array.name)' is empty or contains '/'")
            }
            guard !array.shape.isEmpty, let count = elementCount(array.shape), count == array.values.count, count > 0 else {
                throw RunStoreError(path, "dataset \(array.name): shape \(array.shape) does not hold \(array.values.count) values")
            }
        }
        // Built under a temporary name and renamed into place: a failure (a full disk) leaves no
        // empty or half-written file at `path`.
        try createAtomically(path, suffix: ".partial", what: "file") { temporary in
            let file = try H5File.create(temporary)
            for (name, value) in stringAttributes.sorted(by: { $0.key < $1.key }) {
                try file.setAttribute(name, value)
            }
            try setIntegerAttributes(integerAttributes, on: file)
            for array in arrays {
                let dataset = try file.createDataset("/" + array.name, element: .scalar(Float.self), shape: array.shape,
                                                     storage: .compressed(rowsPerChunk: array.shape.first ?? 1))
                try dataset.write(array.values)
                try setIntegerAttributes(array.integerAttributes, on: dataset)
            }
            try file.flush()
        }
    }

    private static func setIntegerAttributes(_ attributes: [String: [Int]], on object: some H5Object) throws {
        for (name, values) in attributes.sorted(by: { $0.key < $1.key }) {
            try object.setAttribute(name, values.map { Int64($0) }, shape: [values.count])
        }
    }
}
