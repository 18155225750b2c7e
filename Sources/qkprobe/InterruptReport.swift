import Foundation
import Pipeline

/// On SIGINT or SIGTERM during a probe: one line on stderr saying how many rows are complete and
/// how to finish the run, then an immediate exit (128 + the signal). Stopping at once is safe:
/// every row flagged complete is already in the file (the same state a `kill -9` leaves).
final class InterruptReport: @unchecked Sendable {
    private let output: String
    private let lock = NSLock()
    private var state: ProbeProgress?
    private var sources: [DispatchSourceSignal] = []

    init(output: String) {
        self.output = output
        for signalNumber in [SIGINT, SIGTERM] {
            // The signal is delivered to the dispatch source, on a queue thread, instead of killing.
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in stop(signalNumber) }
            source.resume()
            sources.append(source)
        }
    }

    func update(_ progress: ProbeProgress) {
        lock.withLock { state = progress }
    }

    /// The run is done: signals kill the process as usual again.
    func finished() {
        sources.forEach { $0.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    private func stop(_ signalNumber: Int32) {
        let name = signalNumber == SIGINT ? "SIGINT" : "SIGTERM"
        let line: String
        if let state = lock.withLock({ state }) {
            line = "probe: stopped by \(name): \(state.complete) of \(state.total) rows are complete in \(output); "
                + "run the same command with --resume to finish it"
        } else {
            // Still preparing: a half-built file only ever exists under the temporary name.
            unlink(output + ".creating")
            line = "probe: stopped by \(name) before any row was computed"
        }
        let prefix = isatty(STDERR_FILENO) != 0 ? "\n" : ""
        FileHandle.standardError.write(Data((prefix + line + "\n").utf8))
        _exit(128 + signalNumber)
    }
}
