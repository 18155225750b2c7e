import Probe
import Reports

/// A head and its accuracy, as rankings list them.
public struct RankedHead: Sendable, Equatable {
    public let id: HeadID
    public let accuracy: Double

    public var name: String { id.name }
}
