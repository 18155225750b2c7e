import Foundation

/// A table of text cells, rendered for a terminal, as CSV or as Markdown. Every report with
/// rows and columns goes through it, so the formats look the same across commands.
public struct TextTable: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[String]]

    public init(columns: [String], rows: [[String]]) {
        precondition(rows.allSatisfy { $0.count == columns.count }, "every row needs one cell per column")
        self.columns = columns
        self.rows = rows
    }

    /// Columns padded to a common width: the first left-aligned, the others right-aligned.
    public var aligned: String {
        let all = [columns] + rows
        let widths = columns.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, cell in
                c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - cell.count) + cell
            }.joined(separator: "  ")
        }
        return ([line(columns), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
            .joined(separator: "\n") + "\n"
    }

    public var csv: String {
        ([columns] + rows).map { $0.map(Self.csvField).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    public var markdown: String {
        let header = "| " + columns.joined(separator: " | ") + " |\n|" + columns.map { _ in " --- |" }.joined() + "\n"
        return header + rows.map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n") + "\n"
    }

    private static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

/// An accuracy as a percentage with one decimal; "-" for an empty group (NaN or nil).
public func percent(_ x: Float) -> String { percent(Double(x)) }

public func percent(_ x: Double?) -> String {
    guard let x, x.isFinite else { return "-" }
    return String(format: "%.1f%%", x * 100)
}

/// A difference of accuracies in percentage points, signed; "-" for an empty group.
public func points(_ x: Float) -> String { x.isFinite ? String(format: "%+.1f", Double(x) * 100) : "-" }
