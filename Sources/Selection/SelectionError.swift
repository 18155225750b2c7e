/// A problem with an input of `select` or `verify`: a run file, a pair of runs that cannot be
/// compared, or an expectations file. The description is one line that names the file.
public struct SelectionError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}
