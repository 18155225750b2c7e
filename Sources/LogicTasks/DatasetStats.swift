/// Sample counts by steps × distractors × label.
public struct DatasetStats: Sendable, Equatable {
    public struct Cell: Sendable, Equatable {
        /// nil: unknown.
        public let steps: Int?
        public let distractors: Int?
        /// Samples per label, in the order of the dataset's options.
        public let labels: [Int]
        public let unlabelled: Int
        public var total: Int { labels.reduce(unlabelled, +) }
    }

    public let name: String
    public let options: [String]
    /// Cells in order of steps, then distractors; unknown values last.
    public let cells: [Cell]

    public init(_ dataset: LogicDataset) {
        name = dataset.name
        options = dataset.options
        struct Key: Hashable { let steps: Int?, distractors: Int? }
        var counts: [Key: (labels: [Int], unlabelled: Int)] = [:]
        for sample in dataset.samples {
            let key = Key(steps: sample.steps, distractors: sample.distractors)
            var count = counts[key] ?? (Array(repeating: 0, count: dataset.options.count), 0)
            if let label = sample.label { count.labels[label] += 1 } else { count.unlabelled += 1 }
            counts[key] = count
        }
        let order = { (value: Int?) in value ?? Int.max }
        cells = counts
            .sorted { (order($0.key.steps), order($0.key.distractors)) < (order($1.key.steps), order($1.key.distractors)) }
            .map { Cell(steps: $0.key.steps, distractors: $0.key.distractors, labels: $0.value.labels, unlabelled: $0.value.unlabelled) }
    }

    public var labelTotals: [Int] {
        cells.reduce(Array(repeating: 0, count: options.count)) { zip($0, $1.labels).map(+) }
    }
    public var unlabelled: Int { cells.reduce(0) { $0 + $1.unlabelled } }
    public var total: Int { cells.reduce(0) { $0 + $1.total } }

    /// One JSON object: totals, then a list of cells.
    public var json: JSONValue {
        func optional(_ value: Int?) -> JSONValue { value.map(JSONValue.integer) ?? .null }
        var object = JSONObject()
        object.set("name", .string(name))
        object.set("samples", .integer(total))
        object.set("options", .array(options.map(JSONValue.string)))
        object.set("labels", .array(labelTotals.map(JSONValue.integer)))
        object.set("unlabelled", .integer(unlabelled))
        object.set(
            "cells",
            .array(
                cells.map { cell in
                    .object(
                        JSONObject([
                            ("steps", optional(cell.steps)), ("distractors", optional(cell.distractors)),
                            ("labels", .array(cell.labels.map(JSONValue.integer))), ("unlabelled", .integer(cell.unlabelled)),
                            ("total", .integer(cell.total)),
                        ]))
                }))
        return .object(object)
    }

    /// A plain-text table, one line per cell, "?" where steps or distractors are unknown.
    public var table: String {
        let labelHeaders = options.map { $0.trimmingCharacters(in: .whitespaces) }
        let header = ["steps", "distractors"] + labelHeaders + (unlabelled > 0 ? ["unlabelled"] : []) + ["total"]
        func row(_ steps: String, _ distractors: String, _ labels: [Int], _ unlabelledCount: Int, _ total: Int) -> [String] {
            [steps, distractors] + labels.map(String.init) + (unlabelled > 0 ? [String(unlabelledCount)] : []) + [String(total)]
        }
        var rows = [header]
        for cell in cells {
            rows.append(row(cell.steps.map(String.init) ?? "?", cell.distractors.map(String.init) ?? "?", cell.labels, cell.unlabelled, cell.total))
        }
        rows.append(row("all", "", labelTotals, unlabelled, total))
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        let lines = rows.map { cells in
            zip(cells, widths).enumerated().map { index, pair in
                let padding = String(repeating: " ", count: pair.1 - pair.0.count)
                return index < 2 ? pair.0 + padding : padding + pair.0  // names left, counts right
            }.joined(separator: "  ")
        }
        return "\(name): \(total) samples, options \(quoted(options))\n" + lines.joined(separator: "\n") + "\n"
    }
}
