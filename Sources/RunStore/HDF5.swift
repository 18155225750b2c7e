// A small, safe layer over the HDF5 C API: every identifier is owned by one value and closed
// when that value goes away, and every failure becomes a `RunStoreError` naming the file, the
// operation and HDF5's reason (its own error-stack printing is switched off).
import CHDF5
import Foundation

/// A problem with a run file: the file's path and what went wrong, on one line.
public struct RunStoreError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

/// Owns one HDF5 identifier and releases it exactly once, when the owner's lifetime ends.
struct Handle: ~Copyable {
    let id: hid_t
    private let release: @convention(c) (hid_t) -> herr_t

    init(_ id: hid_t, release: @convention(c) (hid_t) -> herr_t) {
        self.id = id
        self.release = release
    }

    deinit { _ = release(id) }
}

/// Runs one HDF5 call for `operation` on the file at `path`; a negative result becomes an error.
///
/// Automatic error printing is switched off before every call because, in a thread-safe HDF5
/// build, that setting belongs to the calling thread's error stack.
@discardableResult
func hdf5<R: BinaryInteger>(_ path: String, _ operation: @autoclosure () -> String, _ call: () -> R) throws -> R {
    qk_H5open()
    H5Eset_auto2(qk_H5E_DEFAULT(), nil, nil)
    let result = HDF5FaultGuard.guarding("\(path): cannot \(operation()): the file is damaged (the HDF5 library faulted on it)", call)
    if result < 0 { throw RunStoreError(path, "cannot \(operation()): \(takeErrorStackReason())") }
    return result
}

/// A short reason for the failure on this thread's HDF5 error stack, which is then cleared.
///
/// The system's message (HDF5 quotes `strerror` as "error message = '...'") is the most useful
/// one when there is one, e.g. "No space left on device"; otherwise the innermost description.
private func takeErrorStackReason() -> String {
    var descriptions: [String] = []
    withUnsafeMutablePointer(to: &descriptions) { list in
        _ = H5Ewalk2(qk_H5E_DEFAULT(), H5E_WALK_DOWNWARD, { _, entry, clientData in
            if let text = entry?.pointee.desc, let clientData {
                clientData.assumingMemoryBound(to: [String].self).pointee.append(String(cString: text))
            }
            return 0
        }, list)
    }
    H5Eclear2(qk_H5E_DEFAULT())
    if descriptions.contains(where: { $0.contains("unable to lock file") }) {
        return "the file is locked by another process that has it open"
    }
    for text in descriptions.reversed() {
        if let start = text.range(of: "error message = '"),
           let end = text[start.upperBound...].firstIndex(of: "'") {
            return String(text[start.upperBound..<end])
        }
    }
    return descriptions.last ?? "unknown HDF5 error"
}

/// A number type stored in run files: its in-memory type and its little-endian file type.
protocol H5Scalar: BitwiseCopyable {
    static var memoryType: hid_t { get }
    static var fileType: hid_t { get }
    static var zero: Self { get }
}

extension Float: H5Scalar {
    static var memoryType: hid_t { qk_H5T_NATIVE_FLOAT() }
    static var fileType: hid_t { qk_H5T_IEEE_F32LE() }
}
extension Double: H5Scalar {
    static var memoryType: hid_t { qk_H5T_NATIVE_DOUBLE() }
    static var fileType: hid_t { qk_H5T_IEEE_F64LE() }
}
extension Int8: H5Scalar {
    static var memoryType: hid_t { qk_H5T_NATIVE_INT8() }
    static var fileType: hid_t { qk_H5T_STD_I8LE() }
}
extension UInt8: H5Scalar {
    static var memoryType: hid_t { qk_H5T_NATIVE_UINT8() }
    static var fileType: hid_t { qk_H5T_STD_U8LE() }
}
extension Int16: H5Scalar {
    static var memoryType: hid_t { qk_H5T_NATIVE_INT16() }
    static var fileType: hid_t { qk_H5T_STD_I16LE() }
}
extension Int32: H5Scalar {
    static var memoryType: hid_t { qk_H5T_NATIVE_INT32() }
    static var fileType: hid_t { qk_H5T_STD_I32LE() }
}
extension Int64: H5Scalar {
    static var memoryType: hid_t { qk_H5T_NATIVE_INT64() }
    static var fileType: hid_t { qk_H5T_STD_I64LE() }
}

/// What one element of a dataset or attribute is.
enum H5Element {
    case scalar(any H5Scalar.Type)
    /// Variable-length UTF-8 string: what h5py writes for `str` and decodes back to `str`.
    case utf8String
    /// Variable-length sequence of int32 (h5py: `h5py.vlen_dtype(np.int32)`).
    case int32Sequence

    func makeType(inFile: Bool, _ path: String) throws -> Handle {
        switch self {
        case .scalar(let type):
            return Handle(try hdf5(path, "copy a datatype") { H5Tcopy(inFile ? type.fileType : type.memoryType) },
                          release: H5Tclose)
        case .utf8String:
            let type = Handle(try hdf5(path, "copy a datatype") { H5Tcopy(qk_H5T_C_S1()) }, release: H5Tclose)
            try hdf5(path, "make a string type") { H5Tset_size(type.id, qk_H5T_VARIABLE()) }
            try hdf5(path, "make a string type") { H5Tset_cset(type.id, H5T_CSET_UTF8) }
            return type
        case .int32Sequence:
            let base = inFile ? qk_H5T_STD_I32LE() : qk_H5T_NATIVE_INT32()
            return Handle(try hdf5(path, "make a sequence type") { H5Tvlen_create(base) }, release: H5Tclose)
        }
    }
}

/// The fill value written into a preallocated dataset when it is created.
struct H5Fill {
    let memoryType: hid_t
    let bytes: [UInt8]

    init<T: H5Scalar>(_ value: T) {
        memoryType = T.memoryType
        bytes = withUnsafeBytes(of: value) { Array($0) }
    }
}

/// How a dataset's raw data is laid out in the file.
enum H5Storage {
    /// One contiguous block, allocated and filled with `fill` when the dataset is created.
    /// Later writes only overwrite bytes inside that block: no metadata changes, ever.
    case preallocated(fill: H5Fill)
    /// Chunked along the first dimension, shuffled and deflated. Compressed chunks are
    /// reallocated when rewritten (a metadata change), so this is for data written once.
    case compressed(rowsPerChunk: Int)
}

func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for extent in shape {
        guard extent >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: extent)
        if overflow { return nil }
        count = product
    }
    return count
}

func makeDataspace(_ shape: [Int], _ path: String) throws -> Handle {
    if shape.isEmpty {
        return Handle(try hdf5(path, "make a scalar dataspace") { H5Screate(H5S_SCALAR) }, release: H5Sclose)
    }
    let dims = shape.map { hsize_t($0) }
    return Handle(try hdf5(path, "make a dataspace of shape \(shape)") {
        H5Screate_simple(Int32(dims.count), dims, nil)
    }, release: H5Sclose)
}

func dataspaceShape(_ space: hid_t, _ path: String, _ what: String) throws -> [Int] {
    let rank = try hdf5(path, "read the shape of \(what)") { H5Sget_simple_extent_ndims(space) }
    var dims = [hsize_t](repeating: 0, count: Int(rank))
    try hdf5(path, "read the shape of \(what)") { H5Sget_simple_extent_dims(space, &dims, nil) }
    guard dims.allSatisfy({ $0 <= hsize_t(Int.max) }) else {
        throw RunStoreError(path, "\(what) has an impossible shape \(dims)")
    }
    return dims.map { Int($0) }
}

/// Things that carry attributes: a file (its root group) and a dataset.
protocol H5Object: AnyObject {
    var id: hid_t { get }
    /// The file's path, for messages.
    var path: String { get }
    /// The object's name inside the file, for messages.
    var name: String { get }
    var fileSize: Int { get throws }
}

extension H5Object {
    /// Refuses reads that no honest file of this size could hold, so a corrupt shape in a small
    /// file cannot ask for an enormous allocation (deflate shrinks data at most ~1032 times).
    func ensureReadable(_ elements: Int, _ elementSize: Int, _ what: String) throws {
        let fileSize = try fileSize
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: elementSize)
        guard !overflow, bytes / 1100 <= fileSize else {
            throw RunStoreError(path, "\(what) claims \(elements) elements of \(elementSize) bytes, "
                                + "too many for a file of \(fileSize) bytes")
        }
    }

    // MARK: attributes

    func hasAttribute(_ attribute: String) throws -> Bool {
        try hdf5(path, "look up attribute \(attribute) of \(name)") { H5Aexists(id, attribute) } > 0
    }

    func setAttribute(_ attribute: String, _ value: String) throws {
        guard !value.utf8.contains(0) else {
            throw RunStoreError(path, "attribute \(attribute) contains a NUL character")
        }
        try writeAttribute(attribute, element: .utf8String, shape: []) { attributeID, memoryType in
            try value.withCString { text in
                var pointer: UnsafePointer<CChar>? = text
                try hdf5(path, "write attribute \(attribute)") { H5Awrite(attributeID, memoryType, &pointer) }
            }
        }
    }

    func setAttribute<T: H5Scalar>(_ attribute: String, _ value: T) throws {
        try setAttribute(attribute, [value], shape: [])
    }

    /// An attribute holding `values` in the given shape ([] for a scalar, [n] for an array).
    func setAttribute<T: H5Scalar>(_ attribute: String, _ values: [T], shape: [Int]) throws {
        precondition(elementCount(shape) == values.count, "attribute shape does not match its values")
        try writeAttribute(attribute, element: .scalar(T.self), shape: shape) { attributeID, memoryType in
            try hdf5(path, "write attribute \(attribute)") { H5Awrite(attributeID, memoryType, values) }
        }
    }

    private func writeAttribute(_ attribute: String, element: H5Element, shape: [Int],
                                _ write: (_ attributeID: hid_t, _ memoryType: hid_t) throws -> Void) throws {
        let fileType = try element.makeType(inFile: true, path)
        let memoryType = try element.makeType(inFile: false, path)
        let space = try makeDataspace(shape, path)
        let attributeID = Handle(try hdf5(path, "create attribute \(attribute) on \(name)") {
            H5Acreate2(id, attribute, fileType.id, space.id, qk_H5P_DEFAULT(), qk_H5P_DEFAULT())
        }, release: H5Aclose)
        try write(attributeID.id, memoryType.id)
    }

    /// A string attribute, variable-length or fixed-length (h5py writes `np.bytes_` as fixed).
    func stringAttribute(_ attribute: String) throws -> String {
        let attributeID = try openAttribute(attribute)
        let space = Handle(try hdf5(path, "read attribute \(attribute)") { H5Aget_space(attributeID.id) },
                           release: H5Sclose)
        guard try elementCount(dataspaceShape(space.id, path, "attribute \(attribute)")) == 1 else {
            throw RunStoreError(path, "attribute \(attribute) is not a single string")
        }
        let fileType = Handle(try hdf5(path, "read attribute \(attribute)") { H5Aget_type(attributeID.id) },
                              release: H5Tclose)
        return try readStrings(of: fileType.id, count: 1, in: self, what: "attribute \(attribute)") { memoryType, buffer in
            try hdf5(path, "read attribute \(attribute)") { H5Aread(attributeID.id, memoryType, buffer) }
        } reclaim: { memoryType, buffer in
            H5Dvlen_reclaim(memoryType, space.id, qk_H5P_DEFAULT(), buffer)
        }[0]
    }

    /// A numeric attribute of one value, converted by HDF5 to `T` (fails if it is not a number).
    func attribute<T: H5Scalar>(_ attribute: String, as _: T.Type = T.self) throws -> T {
        let attributeID = try openAttribute(attribute)
        let space = Handle(try hdf5(path, "read attribute \(attribute)") { H5Aget_space(attributeID.id) },
                           release: H5Sclose)
        guard try elementCount(dataspaceShape(space.id, path, "attribute \(attribute)")) == 1 else {
            throw RunStoreError(path, "attribute \(attribute) is not a single number")
        }
        var value = T.zero
        try hdf5(path, "read attribute \(attribute) as a number") { H5Aread(attributeID.id, T.memoryType, &value) }
        return value
    }

    private func openAttribute(_ attribute: String) throws -> Handle {
        guard try hasAttribute(attribute) else {
            throw RunStoreError(path, "\(name) has no attribute \(attribute)")
        }
        return Handle(try hdf5(path, "open attribute \(attribute)") {
            H5Aopen(id, attribute, qk_H5P_DEFAULT())
        }, release: H5Aclose)
    }
}

/// Reads `count` strings stored with HDF5 type `fileType`, variable- or fixed-length.
func readStrings(of fileType: hid_t, count: Int, in object: H5Object, what: String,
                         read: (_ memoryType: hid_t, _ buffer: UnsafeMutableRawPointer) throws -> Void,
                         reclaim: (_ memoryType: hid_t, _ buffer: UnsafeMutableRawPointer) -> herr_t)
    throws -> [String] {
    let path = object.path
    guard H5Tget_class(fileType) == H5T_STRING else { throw RunStoreError(path, "\(what) is not a string") }
    let memoryType = Handle(try hdf5(path, "read \(what)") { H5Tcopy(qk_H5T_C_S1()) }, release: H5Tclose)
    if try hdf5(path, "read \(what)", { H5Tis_variable_str(fileType) }) > 0 {
        try hdf5(path, "read \(what)") { H5Tset_size(memoryType.id, qk_H5T_VARIABLE()) }
        try hdf5(path, "read \(what)") { H5Tset_cset(memoryType.id, H5T_CSET_UTF8) }
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        return try pointers.withUnsafeMutableBytes { buffer in
            try read(memoryType.id, buffer.baseAddress!)
            defer { _ = reclaim(memoryType.id, buffer.baseAddress!) }
            return buffer.bindMemory(to: UnsafeMutablePointer<CChar>?.self).map { $0.map { String(cString: $0) } ?? "" }
        }
    }
    let width = H5Tget_size(fileType)
    guard width > 0 else { throw RunStoreError(path, "\(what) has strings of no size") }
    try object.ensureReadable(count, width, what)
    try hdf5(path, "read \(what)") { H5Tset_size(memoryType.id, width) }
    try hdf5(path, "read \(what)") { H5Tset_strpad(memoryType.id, H5T_STR_NULLPAD) }
    var bytes = [UInt8](repeating: 0, count: count * width)
    try bytes.withUnsafeMutableBytes { try read(memoryType.id, $0.baseAddress!) }
    return (0..<count).map { index in
        let field = bytes[index * width..<(index + 1) * width]
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: field[..<end], as: UTF8.self)
    }
}

/// An open HDF5 file. Created files use the default (earliest) format, whose version-0
/// superblock has no status flags that readers enforce: HDF5 sets a write-access flag in it
/// while a writer has the file open, but only later superblock versions (SWMR) refuse a file
/// on that account, so a file left by a killed writer still opens everywhere.
final class H5File: H5Object {
    let path: String
    private let handle: Handle
    var id: hid_t { handle.id }
    var name: String { "/" }

    private init(path: String, handle: consuming Handle) {
        self.path = path
        self.handle = handle
    }

    /// Creates (or truncates) the file.
    static func create(_ path: String) throws -> H5File {
        H5File(path: path, handle: Handle(try hdf5(path, "create the file") {
            H5Fcreate(path, qk_H5F_ACC_TRUNC(), qk_H5P_DEFAULT(), qk_H5P_DEFAULT())
        }, release: H5Fclose))
    }

    static func open(_ path: String, writable: Bool) throws -> H5File {
        var info = stat()
        guard stat(path, &info) == 0 else { throw RunStoreError(path, "no such file") }
        // A FIFO or device would block or never end; only a regular file can be a run file.
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw RunStoreError(path, "not a regular file") }
        guard try hdf5(path, "read the file", { H5Fis_hdf5(path) }) > 0 else {
            throw RunStoreError(path, "not an HDF5 file")
        }
        try GlobalHeapCheck.validate(path)
        return H5File(path: path, handle: Handle(try hdf5(path, writable ? "open the file for writing" : "open the file") {
            H5Fopen(path, writable ? qk_H5F_ACC_RDWR() : qk_H5F_ACC_RDONLY(), qk_H5P_DEFAULT())
        }, release: H5Fclose))
    }


    /// Hands everything HDF5 buffers for this file to the operating system (no fsync: a killed
    /// process loses nothing the kernel already has; power loss is not covered).
    func flush() throws {
        try hdf5(path, "flush the file") { H5Fflush(id, H5F_SCOPE_LOCAL) }
    }

    var fileSize: Int {
        get throws {
            var bytes: hsize_t = 0
            try hdf5(path, "read the file size") { H5Fget_filesize(id, &bytes) }
            return Int(clamping: bytes)
        }
    }

    /// Whether an object exists at `objectPath` (absolute, e.g. "/heads/accuracy").
    func exists(_ objectPath: String) throws -> Bool {
        var prefix = ""
        for component in objectPath.split(separator: "/") {
            prefix += "/" + component
            guard try hdf5(path, "look up \(prefix)", { H5Lexists(id, prefix, qk_H5P_DEFAULT()) }) > 0 else {
                return false
            }
        }
        return true
    }

    func createGroup(_ groupPath: String) throws {
        let properties = try objectCreationProperties(qk_H5P_GROUP_CREATE())
        _ = Handle(try hdf5(path, "create group \(groupPath)") {
            H5Gcreate2(id, groupPath, qk_H5P_DEFAULT(), properties.id, qk_H5P_DEFAULT())
        }, release: H5Gclose)
    }

    func createDataset(_ datasetPath: String, element: H5Element, shape: [Int], storage: H5Storage) throws -> H5Dataset {
        let properties = try objectCreationProperties(qk_H5P_DATASET_CREATE())
        let dcpl = properties.id
        let operation = "create dataset \(datasetPath)"
        switch storage {
        case .preallocated(let fill):
            try hdf5(path, operation) { H5Pset_layout(dcpl, H5D_CONTIGUOUS) }
            try hdf5(path, operation) { H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) }
            try hdf5(path, operation) { H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC) }
            try hdf5(path, operation) { H5Pset_fill_value(dcpl, fill.memoryType, fill.bytes) }
        case .compressed(let rowsPerChunk):
            precondition(!shape.isEmpty && rowsPerChunk >= 1 && rowsPerChunk <= shape[0])
            let chunk = [hsize_t(rowsPerChunk)] + shape.dropFirst().map { hsize_t(Swift.max($0, 1)) }
            try hdf5(path, operation) { H5Pset_chunk(dcpl, Int32(chunk.count), chunk) }
            try hdf5(path, operation) { H5Pset_shuffle(dcpl) }
            try hdf5(path, operation) { H5Pset_deflate(dcpl, 6) }
        }
        let type = try element.makeType(inFile: true, path)
        let space = try makeDataspace(shape, path)
        let dataset = Handle(try hdf5(path, operation) {
            H5Dcreate2(id, datasetPath, type.id, space.id, qk_H5P_DEFAULT(), dcpl, qk_H5P_DEFAULT())
        }, release: H5Dclose)
        return H5Dataset(file: self, name: datasetPath, handle: dataset, shape: shape)
    }

    func openDataset(_ datasetPath: String) throws -> H5Dataset {
        guard try exists(datasetPath) else { throw RunStoreError(path, "missing dataset \(datasetPath)") }
        let dataset = Handle(try hdf5(path, "open dataset \(datasetPath)") {
            H5Dopen2(id, datasetPath, qk_H5P_DEFAULT())
        }, release: H5Dclose)
        let space = Handle(try hdf5(path, "read the shape of \(datasetPath)") { H5Dget_space(dataset.id) },
                           release: H5Sclose)
        let shape = try dataspaceShape(space.id, path, datasetPath)
        return H5Dataset(file: self, name: datasetPath, handle: dataset, shape: shape)
    }

    /// Creation properties with modification-time tracking off: nothing in the file changes
    /// with the clock, and nothing is touched after creation.
    private func objectCreationProperties(_ propertyClass: hid_t) throws -> Handle {
        let properties = Handle(try hdf5(path, "make creation properties") { H5Pcreate(propertyClass) },
                                release: H5Pclose)
        try hdf5(path, "make creation properties") { H5Pset_obj_track_times(properties.id, false) }
        return properties
    }
}

/// An open dataset of a known shape. Row `r` means index `r` along the first dimension.
final class H5Dataset: H5Object {
    let file: H5File
    let name: String
    let shape: [Int]
    private let handle: Handle
    var id: hid_t { handle.id }
    var path: String { file.path }
    var fileSize: Int { get throws { try file.fileSize } }

    fileprivate init(file: H5File, name: String, handle: consuming Handle, shape: [Int]) {
        self.file = file
        self.name = name
        self.handle = handle
        self.shape = shape
    }

    /// Elements in one row (everything after the first dimension).
    var rowLength: Int { elementCount(Array(shape.dropFirst())) ?? 0 }
    var count: Int { elementCount(shape) ?? 0 }

    // MARK: dimension scales

    /// Makes this dataset the dimension scale `dimension`: netCDF-4 readers (h5netcdf, xarray)
    /// then name the dimensions of the datasets it is attached to.
    func makeDimensionScale(_ dimension: String) throws {
        try hdf5(path, "make \(name) a dimension scale") { H5DSset_scale(id, dimension) }
    }

    /// Attaches `scale` to dimension `index` of this dataset.
    func attach(_ scale: H5Dataset, toDimension index: Int) throws {
        try hdf5(path, "attach \(scale.name) to \(name)") { H5DSattach_scale(id, scale.id, UInt32(index)) }
    }

    // MARK: numbers

    func write<T: H5Scalar>(_ values: [T]) throws {
        try expect(values.count, count, "values for")
        try hdf5(path, "write \(name)") {
            H5Dwrite(id, T.memoryType, qk_H5S_ALL(), qk_H5S_ALL(), qk_H5P_DEFAULT(), values)
        }
    }

    func write<T: H5Scalar>(row: Int, _ values: [T]) throws {
        try expect(values.count, rowLength, "values for one row of")
        try withRowSelection(row) { memory, file in
            try hdf5(path, "write row \(row) of \(name)") {
                H5Dwrite(id, T.memoryType, memory, file, qk_H5P_DEFAULT(), values)
            }
        }
    }

    func read<T: H5Scalar>(as _: T.Type = T.self) throws -> [T] {
        try ensureReadable(count, MemoryLayout<T>.stride, name)
        var values = [T](repeating: .zero, count: count)
        try hdf5(path, "read \(name)") {
            H5Dread(id, T.memoryType, qk_H5S_ALL(), qk_H5S_ALL(), qk_H5P_DEFAULT(), &values)
        }
        return values
    }

    func read<T: H5Scalar>(row: Int, as _: T.Type = T.self) throws -> [T] {
        try ensureReadable(rowLength, MemoryLayout<T>.stride, name)
        var values = [T](repeating: .zero, count: rowLength)
        try withRowSelection(row) { memory, file in
            try hdf5(path, "read row \(row) of \(name)") {
                H5Dread(id, T.memoryType, memory, file, qk_H5P_DEFAULT(), &values)
            }
        }
        return values
    }

    // MARK: variable-length data

    func writeStrings(_ values: [String]) throws {
        try expect(values.count, count, "strings for")
        if let bad = values.firstIndex(where: { $0.utf8.contains(0) }) {
            throw RunStoreError(path, "\(name)[\(bad)] contains a NUL character")
        }
        let copies = values.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let type = try H5Element.utf8String.makeType(inFile: false, path)
        try hdf5(path, "write \(name)") {
            H5Dwrite(id, type.id, qk_H5S_ALL(), qk_H5S_ALL(), qk_H5P_DEFAULT(), copies)
        }
    }

    /// All strings of a one-dimensional dataset, variable- or fixed-length.
    func readStrings() throws -> [String] {
        try ensureReadable(count, MemoryLayout<UnsafeRawPointer>.stride, name)
        let fileType = Handle(try hdf5(path, "read the type of \(name)") { H5Dget_type(id) }, release: H5Tclose)
        let space = Handle(try hdf5(path, "read \(name)") { H5Dget_space(id) }, release: H5Sclose)
        return try RunStore.readStrings(of: fileType.id, count: count, in: self, what: name) { memoryType, buffer in
            try hdf5(path, "read \(name)") {
                H5Dread(id, memoryType, qk_H5S_ALL(), qk_H5S_ALL(), qk_H5P_DEFAULT(), buffer)
            }
        } reclaim: { memoryType, buffer in
            H5Dvlen_reclaim(memoryType, space.id, qk_H5P_DEFAULT(), buffer)
        }
    }

    func writeInt32Sequences(_ sequences: [[Int32]]) throws {
        try expect(sequences.count, count, "sequences for")
        let type = try H5Element.int32Sequence.makeType(inFile: false, path)
        // hvl_t holds bare pointers, so each sequence is copied into memory that outlives the call.
        let copies = sequences.map { sequence -> hvl_t in
            let storage = UnsafeMutablePointer<Int32>.allocate(capacity: Swift.max(sequence.count, 1))
            storage.initialize(from: sequence, count: sequence.count)
            return hvl_t(len: sequence.count, p: UnsafeMutableRawPointer(storage))
        }
        defer { copies.forEach { $0.p?.deallocate() } }
        try hdf5(path, "write \(name)") {
            H5Dwrite(id, type.id, qk_H5S_ALL(), qk_H5S_ALL(), qk_H5P_DEFAULT(), copies)
        }
    }

    func readInt32Sequences() throws -> [[Int32]] {
        try ensureReadable(count, MemoryLayout<hvl_t>.stride, name)
        let type = try H5Element.int32Sequence.makeType(inFile: false, path)
        let space = Handle(try hdf5(path, "read \(name)") { H5Dget_space(id) }, release: H5Sclose)
        var buffers = [hvl_t](repeating: hvl_t(len: 0, p: nil), count: count)
        try hdf5(path, "read \(name) as int32 sequences") {
            H5Dread(id, type.id, qk_H5S_ALL(), qk_H5S_ALL(), qk_H5P_DEFAULT(), &buffers)
        }
        defer { H5Dvlen_reclaim(type.id, space.id, qk_H5P_DEFAULT(), &buffers) }
        return buffers.map { buffer in
            guard let start = buffer.p, buffer.len > 0 else { return [] }
            return Array(UnsafeBufferPointer(start: start.assumingMemoryBound(to: Int32.self), count: buffer.len))
        }
    }

    // MARK: helpers

    private func expect(_ given: Int, _ expected: Int, _ what: String) throws {
        guard given == expected else {
            throw RunStoreError(path, "\(given) \(what) \(name), expected \(expected)")
        }
    }


    private func withRowSelection(_ row: Int, _ body: (_ memory: hid_t, _ file: hid_t) throws -> Void) throws {
        guard !shape.isEmpty, (0..<shape[0]).contains(row) else {
            throw RunStoreError(path, "row \(row) is outside \(name) of shape \(shape)")
        }
        let fileSpace = Handle(try hdf5(path, "select row \(row) of \(name)") { H5Dget_space(id) },
                               release: H5Sclose)
        let start = [hsize_t(row)] + Array(repeating: 0, count: shape.count - 1)
        let extent = [1] + shape.dropFirst().map { hsize_t($0) }
        try hdf5(path, "select row \(row) of \(name)") {
            H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, start, nil, extent, nil)
        }
        let memorySpace = try makeDataspace([rowLength], path)
        try body(memorySpace.id, fileSpace.id)
    }
}

/// Makes the file at `path` under the name `path + suffix` and renames it into place only when
/// `build` has finished: a failure (a full disk) or a kill leaves nothing, half-built or empty,
/// under `path`. `build` must close what it opens of the temporary file.
func createAtomically(_ path: String, suffix: String, what: String, _ build: (_ temporary: String) throws -> Void) throws {
    let temporary = path + suffix
    unlink(temporary)
    do {
        try build(temporary)
    } catch let error as RunStoreError {
        unlink(temporary)
        throw error.path == temporary ? RunStoreError(path, error.problem) : error
    } catch {
        unlink(temporary)
        throw error
    }
    if rename(temporary, path) != 0 {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw RunStoreError(path, "cannot move the new \(what) into place: \(reason)")
    }
}
