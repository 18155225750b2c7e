// Splitting one run over several processes (`probe --shard I/N`) and what a shard file records.
//
// The split is round-robin: shard I of N holds the run's rows r with r mod N == I - 1. Datasets
// are usually ordered by difficulty (the generator writes its grid step by step, public sets come
// in depth files), and a sample's cost grows with its prompt, so contiguous blocks would give the
// last shard the longest prompts and leave the array waiting on it; round-robin gives every shard
// the same mix, so shards finish together and any one shard is a fair sample of the run.

/// Which shard of a run a process computes: `index` from 1 to `count`.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, (1...count).contains(index) else {
            throw ShardError("shard \(index)/\(count): expected I/N with N at least 1 and I from 1 to N")
        }
        self.index = index
        self.count = count
    }

    /// Parses "I/N", e.g. "2/4".
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw ShardError("shard \"\(text)\": expected I/N, e.g. 2/4")
        }
        try self.init(index: index, count: count)
    }

    public var description: String { "\(index)/\(count)" }

    /// The rows of a run of `totalRows` rows this shard holds, ascending (round-robin).
    public func rows(ofTotal totalRows: Int) throws -> [Int] {
        guard totalRows >= count else {
            throw ShardError("shard \(self): the run has \(totalRows) rows, fewer than \(count) shards, so shard \(index) could be empty; use at most \(totalRows) shards")
        }
        return Array(stride(from: index - 1, to: totalRows, by: count))
    }
}

/// A bad shard request: one line for the user.
public struct ShardError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// What a shard's run file records about its place in the whole run.
public struct RunShard: Sendable, Equatable {
    public var shard: Shard
    /// Rows of the whole (unsharded) run: the dataset's samples, or the first `--limit` of them.
    public var totalRows: Int
    /// Samples in the dataset itself, part of its identity beside its name and sha256.
    public var datasetRows: Int
    /// The rows of the whole run this file holds, ascending: its row i is the whole run's row rows[i].
    public var rows: [Int]

    public init(shard: Shard, totalRows: Int, datasetRows: Int) throws {
        self.shard = shard
        self.totalRows = totalRows
        self.datasetRows = datasetRows
        rows = try shard.rows(ofTotal: totalRows)
    }

    init(shard: Shard, totalRows: Int, datasetRows: Int, rows: [Int]) {
        self.shard = shard
        self.totalRows = totalRows
        self.datasetRows = datasetRows
        self.rows = rows
    }

    /// "shard 2/4 (rows 1, 5, 9 of 12)", for messages.
    public var description: String { "shard \(shard) (\(describeRows(rows)) of \(totalRows))" }
}

/// "rows 1, 5, 9" or "rows 1, 5, 9, ... (40 in all)", for messages.
func describeRows(_ rows: [Int], limit: Int = 8) -> String {
    let shown = rows.prefix(limit).map(String.init).joined(separator: ", ")
    let noun = rows.count == 1 ? "row" : "rows"
    return rows.count > limit ? "\(noun) \(shown), ... (\(rows.count) in all)" : "\(noun) \(shown)"
}
