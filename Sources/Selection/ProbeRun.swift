import Foundation
import Probe
import Reports
import RunStore

/// A run file read for assertions and selection: its scores and its head accuracy tables over
/// the complete, labelled rows.
///
/// ```swift
/// let run = try ProbeRun(contentsOf: url)
/// XCTAssertGreaterThan(try run.accuracy(of: "L14H3"), run.baselineAccuracy + 0.1)
/// ```
public struct ProbeRun: Sendable {
    public let url: URL
    /// How reports and errors name the run: the path as given, plus the part for a split.
    public let name: String
    public let header: RunHeader
    public let options: [String]
    public let samples: ScoredSamples
    public let tables: HeadAccuracyTables

    /// Reads the run file at `url`; `name` defaults to its path.
    public init(contentsOf url: URL, name: String? = nil) throws {
        let reader = try RunReader(url: url)
        self.init(url: url, name: name ?? url.path, header: reader.header, options: reader.options,
                  samples: ScoredSamples(run: reader))
    }

    init(url: URL, name: String, header: RunHeader, options: [String], samples: ScoredSamples) {
        self.url = url
        self.name = name
        self.header = header
        self.options = options
        self.samples = samples
        tables = headAccuracyTables(samples)
    }

    public var layers: Int { samples.layers }
    public var heads: Int { samples.heads }
    /// Complete rows with a label: the rows every accuracy counts.
    public var labelledCount: Int { tables.overall.count }
    /// Rows the run has not written yet (a run that was stopped and not resumed).
    public var unfinishedRows: Int { samples.complete.lazy.filter { !$0 }.count }

    /// The model's own accuracy (argmax of the option logits); NaN when no row is labelled.
    public var baselineAccuracy: Double { Double(tables.overall.baseline) }

    /// The accuracy of a head named like "L14H3"; throws if the name is malformed or the run has
    /// no such head.
    public func accuracy(of name: String) throws -> Double {
        accuracy(of: try head(named: name, in: self.name))
    }

    /// The accuracy of a head of this run (it must be one: `layer < layers`, `head < heads`).
    public func accuracy(of id: HeadID) -> Double {
        precondition(id.layer < layers && id.head < heads, "\(id.name) is not a head of \(name)")
        return Double(tables.overall.heads[id.layer * heads + id.head])
    }

    /// The `count` most accurate heads, best first; equal accuracies keep layer-then-head order.
    public func bestHeads(_ count: Int) -> [RankedHead] {
        tables.ranked().prefix(max(0, count)).map {
            RankedHead(id: HeadID(layer: $0.layer, head: $0.head), accuracy: Double($0.accuracy))
        }
    }

    /// Resolves a head name against this run's layout; errors name `source`, the file that
    /// wrote the name.
    func head(named name: String, in source: String) throws -> HeadID {
        guard let id = HeadID(name: name) else {
            throw SelectionError(source, "\"\(name)\" is not a head name (write L<layer>H<head>, e.g. L14H3)")
        }
        guard id.layer < layers, id.head < heads else {
            throw SelectionError(source, "head \(name) is not in \(self.name) (\(layers) layers x \(heads) heads)")
        }
        return id
    }

    /// How the q/k dot product was scaled, named as `qkprobe heads --format json` names it.
    var scaleName: String { header.qkScale == 1 ? "none" : "1/sqrt(d_head)" }

    /// Throws unless `other` measured the same quantities: the same model file, the same head
    /// layout and the same q/k convention. The error names `other`.
    public func ensureComparable(with other: ProbeRun) throws {
        func refuse(_ problem: String) -> SelectionError { SelectionError(other.name, problem) }
        let (mine, theirs) = (header, other.header)
        if mine.modelSHA256 != theirs.modelSHA256 {
            throw refuse("made with a different model than \(name) (model_sha256 \(short(theirs.modelSHA256)) "
                + "vs \(short(mine.modelSHA256))); heads of different models cannot be compared")
        }
        if (other.layers, other.heads) != (layers, heads) {
            throw refuse("has \(other.layers) layers x \(other.heads) heads but \(name) has \(layers) x \(heads)")
        }
        if mine.qkRope != theirs.qkRope {
            throw refuse("scores q/k \(theirs.qkRope.rawValue)-rotary but \(name) \(mine.qkRope.rawValue)-rotary")
        }
        if mine.qkScale != theirs.qkScale {
            throw refuse("scales q/k by \(other.scaleName) but \(name) by \(scaleName)")
        }
    }
}

/// The start of a sha256, enough to tell two models apart in a message.
func short(_ sha256: String) -> String {
    sha256.isEmpty ? "(none)" : sha256.count > 12 ? String(sha256.prefix(12)) + "…" : sha256
}
