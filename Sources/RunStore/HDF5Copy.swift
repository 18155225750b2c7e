// Copying between HDF5 files without knowing what is copied: attributes by name and rows of
// datasets, whatever their element type. `merge` uses these, so what the layout gains later
// (another attribute, another per-sample dataset) is carried over with no change here.
import CHDF5
import Foundation

/// An attribute's value in a form that can be compared across files.
enum H5AttributeValue: Equatable {
    case strings([String])
    case bytes(typeClass: Int32, size: Int, shape: [Int], [UInt8])
    /// Variable-length or reference data: its bytes are pointers or addresses, not the value.
    case notComparable
}

/// The memory type matching a file type (refused if it holds object references, which are
/// addresses in their own file).
private func nativeType(of fileType: hid_t, _ path: String, _ what: String) throws -> Handle {
    guard try hdf5(path, "read the type of \(what)", { H5Tdetect_class(fileType, H5T_REFERENCE) }) == 0 else {
        throw RunStoreError(path, "\(what) holds object references, which cannot be copied to another file")
    }
    return Handle(try hdf5(path, "read the type of \(what)") { H5Tget_native_type(fileType, H5T_DIR_ASCEND) },
                  release: H5Tclose)
}

/// Whether data of a memory type holds pointers HDF5 allocated (to be reclaimed after use).
private func isVariable(_ memoryType: hid_t, _ path: String, _ what: String) throws -> Bool {
    if H5Tget_class(memoryType) == H5T_STRING {
        return try hdf5(path, "read the type of \(what)") { H5Tis_variable_str(memoryType) } > 0
    }
    return try hdf5(path, "read the type of \(what)") { H5Tdetect_class(memoryType, H5T_VLEN) } > 0
}

/// Names collected by HDF5's iteration callbacks.
private final class NameList {
    var list: [String] = []
}

extension H5Object {
    /// The names of this object's attributes, in name order.
    func attributeNames() throws -> [String] {
        let names = NameList()
        var index: hsize_t = 0
        _ = try withExtendedLifetime(names) {
            try hdf5(path, "list the attributes of \(name)") {
                H5Aiterate2(id, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, data in
                    guard let name, let data else { return -1 }
                    Unmanaged<NameList>.fromOpaque(data).takeUnretainedValue().list.append(String(cString: name))
                    return 0
                }, Unmanaged.passUnretained(names).toOpaque())
            }
        }
        return names.list
    }

    /// An attribute's value, for comparison.
    func attributeValue(_ attribute: String) throws -> H5AttributeValue {
        let what = "attribute \(attribute)"
        let attributeID = Handle(try hdf5(path, "open \(what)") { H5Aopen(id, attribute, qk_H5P_DEFAULT()) },
                                 release: H5Aclose)
        let fileType = Handle(try hdf5(path, "read \(what)") { H5Aget_type(attributeID.id) }, release: H5Tclose)
        let space = Handle(try hdf5(path, "read \(what)") { H5Aget_space(attributeID.id) }, release: H5Sclose)
        let shape = try dataspaceShape(space.id, path, what)
        let count = elementCount(shape) ?? 0
        if H5Tget_class(fileType.id) == H5T_STRING {
            return .strings(try readStrings(of: fileType.id, count: count, in: self, what: what) { memoryType, buffer in
                try hdf5(path, "read \(what)") { H5Aread(attributeID.id, memoryType, buffer) }
            } reclaim: { memoryType, buffer in
                H5Dvlen_reclaim(memoryType, space.id, qk_H5P_DEFAULT(), buffer)
            })
        }
        if try hdf5(path, "read \(what)", { H5Tdetect_class(fileType.id, H5T_REFERENCE) }) > 0 { return .notComparable }
        let memoryType = try nativeType(of: fileType.id, path, what)
        if try isVariable(memoryType.id, path, what) { return .notComparable }
        let size = H5Tget_size(memoryType.id)
        try ensureReadable(count, size, what)
        var bytes = [UInt8](repeating: 0, count: max(1, count * size))
        try hdf5(path, "read \(what)") { H5Aread(attributeID.id, memoryType.id, &bytes) }
        return .bytes(typeClass: H5Tget_class(fileType.id).rawValue, size: size, shape: shape, Array(bytes.prefix(count * size)))
    }

    /// Copies `source`'s attribute `attribute` here with its own type and shape, replacing one
    /// of the same name.
    func copyAttribute(_ attribute: String, from source: H5Object) throws {
        let what = "attribute \(attribute)"
        let sourcePath = source.path
        let original = Handle(try hdf5(sourcePath, "open \(what)") { H5Aopen(source.id, attribute, qk_H5P_DEFAULT()) },
                              release: H5Aclose)
        let fileType = Handle(try hdf5(sourcePath, "read \(what)") { H5Aget_type(original.id) }, release: H5Tclose)
        let space = Handle(try hdf5(sourcePath, "read \(what)") { H5Aget_space(original.id) }, release: H5Sclose)
        let count = try elementCount(dataspaceShape(space.id, sourcePath, what)) ?? 0
        let memoryType = try nativeType(of: fileType.id, sourcePath, what)
        let variable = try isVariable(memoryType.id, sourcePath, what)
        let size = H5Tget_size(memoryType.id)
        try source.ensureReadable(count, size, what)
        var buffer = [UInt8](repeating: 0, count: max(1, count * size))
        try hdf5(sourcePath, "read \(what)") { H5Aread(original.id, memoryType.id, &buffer) }
        defer { if variable { H5Dvlen_reclaim(memoryType.id, space.id, qk_H5P_DEFAULT(), &buffer) } }
        if try hasAttribute(attribute) {
            try hdf5(path, "replace \(what) of \(name)") { H5Adelete(id, attribute) }
        }
        let copy = Handle(try hdf5(path, "create \(what) on \(name)") {
            H5Acreate2(id, attribute, fileType.id, space.id, qk_H5P_DEFAULT(), qk_H5P_DEFAULT())
        }, release: H5Aclose)
        try hdf5(path, "write \(what)") { H5Awrite(copy.id, memoryType.id, buffer) }
    }
}

extension H5File {
    /// Absolute paths of every dataset under `group` (subgroups included), in name order;
    /// empty when the group does not exist.
    func datasetPaths(under group: String) throws -> [String] {
        guard try exists(group) else { return [] }
        let names = NameList()
        let groupID = Handle(try hdf5(path, "open group \(group)") { H5Gopen2(id, group, qk_H5P_DEFAULT()) },
                             release: H5Gclose)
        var index: hsize_t = 0
        _ = try withExtendedLifetime(names) {
            try hdf5(path, "list group \(group)") {
                H5Literate(groupID.id, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, data in
                    guard let name, let data else { return -1 }
                    Unmanaged<NameList>.fromOpaque(data).takeUnretainedValue().list.append(String(cString: name))
                    return 0
                }, Unmanaged.passUnretained(names).toOpaque())
            }
        }
        var paths: [String] = []
        for child in names.list {
            let childPath = group == "/" ? "/" + child : group + "/" + child
            let object = Handle(try hdf5(path, "open \(childPath)") { H5Oopen(id, childPath, qk_H5P_DEFAULT()) },
                                release: H5Oclose)
            switch H5Iget_type(object.id) {
            case H5I_DATASET: paths.append(childPath)
            case H5I_GROUP: paths += try datasetPaths(under: childPath)
            default: break
            }
        }
        return paths
    }
}

extension H5Dataset {
    /// Writes every row of `source` into this dataset: source row i becomes row `rows[i]` here.
    /// The element type is whatever `source` stores; the rows after the first dimension must
    /// have the same shape. Copies in blocks of rows, so memory stays bounded.
    func copyRows(from source: H5Dataset, to rows: [Int]) throws {
        let what = "\(source.name) of \(source.path)"
        guard source.shape.count == shape.count, !shape.isEmpty, source.shape.dropFirst() == shape.dropFirst(),
              source.shape[0] == rows.count else {
            throw RunStoreError(path, "cannot copy \(what) of shape \(source.shape) into \(name) of shape \(shape)")
        }
        guard rows.allSatisfy({ (0..<shape[0]).contains($0) }) else {
            throw RunStoreError(path, "cannot copy \(what): a row is outside \(name) of shape \(shape)")
        }
        let fileType = Handle(try hdf5(source.path, "read the type of \(source.name)") { H5Dget_type(source.id) },
                              release: H5Tclose)
        let memoryType = try nativeType(of: fileType.id, source.path, source.name)
        let variable = try isVariable(memoryType.id, source.path, source.name)
        let rowLength = source.rowLength
        let rowBytes = rowLength * H5Tget_size(memoryType.id)
        guard rowBytes > 0 else { return }
        try source.ensureReadable(source.count, H5Tget_size(memoryType.id), source.name)
        let blockRows = max(1, (32 << 20) / rowBytes)
        let inner = shape.dropFirst().map { hsize_t($0) }
        var start = 0
        while start < rows.count {
            let count = min(blockRows, rows.count - start)
            var buffer = [UInt8](repeating: 0, count: count * rowBytes)
            let sourceSpace = Handle(try hdf5(source.path, "select rows of \(source.name)") { H5Dget_space(source.id) },
                                     release: H5Sclose)
            try hdf5(source.path, "select rows of \(source.name)") {
                H5Sselect_hyperslab(sourceSpace.id, H5S_SELECT_SET, [hsize_t(start)] + inner.map { _ in 0 }, nil,
                                    [hsize_t(count)] + inner, nil)
            }
            let memorySpace = try makeDataspace([count * rowLength], path)
            try hdf5(source.path, "read rows of \(source.name)") {
                H5Dread(source.id, memoryType.id, memorySpace.id, sourceSpace.id, qk_H5P_DEFAULT(), &buffer)
            }
            defer { if variable { H5Dvlen_reclaim(memoryType.id, memorySpace.id, qk_H5P_DEFAULT(), &buffer) } }
            let targets = Array(rows[start..<start + count])
            let step = count > 1 ? targets[1] - targets[0] : 1
            if step > 0, zip(targets, targets.dropFirst()).allSatisfy({ $1 - $0 == step }) {
                // One strided selection: round-robin shards land every N-th row.
                let targetSpace = Handle(try hdf5(path, "select rows of \(name)") { H5Dget_space(id) }, release: H5Sclose)
                try hdf5(path, "select rows of \(name)") {
                    H5Sselect_hyperslab(targetSpace.id, H5S_SELECT_SET, [hsize_t(targets[0])] + inner.map { _ in 0 },
                                        [hsize_t(step)] + inner, [hsize_t(count)] + inner.map { _ in 1 },
                                        [1] + inner)
                }
                try hdf5(path, "write rows of \(name)") {
                    H5Dwrite(id, memoryType.id, memorySpace.id, targetSpace.id, qk_H5P_DEFAULT(), buffer)
                }
            } else {
                let rowSpace = try makeDataspace([rowLength], path)
                for (offset, row) in targets.enumerated() {
                    let targetSpace = Handle(try hdf5(path, "select row \(row) of \(name)") { H5Dget_space(id) }, release: H5Sclose)
                    try hdf5(path, "select row \(row) of \(name)") {
                        H5Sselect_hyperslab(targetSpace.id, H5S_SELECT_SET, [hsize_t(row)] + inner.map { _ in 0 }, nil,
                                            [1] + inner, nil)
                    }
                    _ = try buffer.withUnsafeBytes { bytes in
                        try hdf5(path, "write row \(row) of \(name)") {
                            H5Dwrite(id, memoryType.id, rowSpace.id, targetSpace.id, qk_H5P_DEFAULT(),
                                     bytes.baseAddress! + offset * rowBytes)
                        }
                    }
                }
            }
            start += count
        }
    }
}
