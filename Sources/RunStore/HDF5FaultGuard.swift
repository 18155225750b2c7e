import Foundation

/// The last line of defence against damaged HDF5 files.
///
/// libhdf5 1.10 trusts much of the metadata it reads: a damaged size or address inside an
/// object header or a variable-length string can make it copy past a buffer and fault. The
/// readers check what they can before reading (global heaps, extents against the file's size),
/// but cannot parse every structure of the format. So every HDF5 call (`hdf5(...)`) first arms
/// this guard with the line to print; a program that calls `install()` (the `qkprobe` command
/// does) then turns a fault inside libhdf5 into that one line on stderr and exit status 1,
/// instead of a crash report. A fault anywhere else goes to the handler that was there before.
public enum HDF5FaultGuard {
    private static let capacity = 4096
    nonisolated(unsafe) private static let line = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    /// Bytes of `line` to print; 0 outside HDF5 calls.
    nonisolated(unsafe) private static var armedLength = 0
    nonisolated(unsafe) private static var previousSegmentationFault = sigaction()
    nonisolated(unsafe) private static var previousBusError = sigaction()

    /// Installs the handler for SIGSEGV and SIGBUS (once per process is enough).
    public static func install() {
        _ = line
        armedLength = 0
        var action = sigaction()
        action.sa_flags = SA_SIGINFO | SA_ONSTACK
        sigemptyset(&action.sa_mask)
        #if os(Linux)
        action.__sigaction_handler.sa_sigaction = { signalNumber, _, _ in HDF5FaultGuard.handle(signalNumber) }
        #else
        action.__sigaction_u.__sa_sigaction = { signalNumber, _, _ in HDF5FaultGuard.handle(signalNumber) }
        #endif
        sigaction(SIGSEGV, &action, &previousSegmentationFault)
        sigaction(SIGBUS, &action, &previousBusError)
    }

    /// Runs `body` (one HDF5 call) with `message` as the line a fault prints.
    static func guarding<R>(_ message: @autoclosure () -> String, _ body: () -> R) -> R {
        let bytes = Array(("Error: " + message() + "\n").utf8.prefix(capacity))
        bytes.withUnsafeBufferPointer { line.update(from: $0.baseAddress!, count: $0.count) }
        armedLength = bytes.count
        defer { armedLength = 0 }
        return body()
    }

    /// Async-signal-safe: a write and an exit, or the previous handler back for the fault to recur.
    private static func handle(_ signalNumber: Int32) {
        if armedLength > 0 {
            _ = write(STDERR_FILENO, line, armedLength)
            _exit(1)
        }
        var previous = signalNumber == SIGBUS ? previousBusError : previousSegmentationFault
        sigaction(signalNumber, &previous, nil)
    }
}
