import Foundation

/// Progress on stderr: a bar redrawn in place on a terminal, a plain line every few seconds
/// otherwise (logs, CI), so stdout stays free for results.
struct Progress {
    let total: Int
    private(set) var done: Int
    private let startDone: Int
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let isTerminal = isatty(STDERR_FILENO) != 0

    init(total: Int, alreadyDone: Int) {
        self.total = total
        done = alreadyDone
        startDone = alreadyDone
    }

    var elapsed: TimeInterval { Date().timeIntervalSince(start) }

    /// Samples per second over this process's work (resumed rows don't count).
    var rate: Double {
        let seconds = elapsed
        return seconds > 0 ? Double(done - startDone) / seconds : 0
    }

    mutating func advance() {
        done += 1
        let now = Date()
        let interval: TimeInterval = isTerminal ? 0.2 : 5
        if done == total || now.timeIntervalSince(lastPrint) >= interval {
            lastPrint = now
            draw()
        }
    }

    private func draw() {
        let remaining = rate > 0 ? Double(total - done) / rate : .nan
        let stats = "\(done)/\(total)  \(String(format: "%.2f", rate)) samples/s  ETA \(Self.duration(remaining))"
        if isTerminal {
            let width = 30
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(stats)\u{1B}[K\(done == total ? "\n" : "")".utf8))
        } else {
            FileHandle.standardError.write(Data("probe: \(stats)\n".utf8))
        }
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "-" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m" : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}
