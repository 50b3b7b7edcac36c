import Foundation

/// Where VoxServe keeps and finds things. Libraries take a value of it; only the entry point
/// reads the environment (`VoxRuntime.RuntimeConfiguration.fromEnvironment`), through
/// ``fromEnvironment(_:)``:
///
/// - `VOXSERVE_HOME`: voices, cache and user models (default `~/.voxserve`).
/// - `VOXSERVE_CACHE_DIR`: the conditioning cache (default `$VOXSERVE_HOME/cache`).
/// - `VOXSERVE_DEPS`: what `scripts/setup.sh` installed (default: the `.deps` folder found
///   by walking up from the executable, which is where `make` builds it).
/// - `VOXSERVE_ORT_LIBRARY`: an ONNX Runtime library to load instead of setup's.
/// - `VOXSERVE_CHATTERBOX_DIR`: the Chatterbox export (default `$VOXSERVE_HOME/models/chatterbox`).
public struct VoxPaths: Sendable, Equatable {
    public var home: URL
    public var cacheDirectory: URL
    public var depsDirectory: URL?
    /// An ONNX Runtime library that replaces setup's (tried before the candidates in `depsDirectory`).
    public var onnxRuntimeLibrary: URL?
    /// Where a Chatterbox ONNX export is looked for.
    public var chatterboxDirectory: URL

    public init(home: URL, cacheDirectory: URL? = nil, depsDirectory: URL? = nil, onnxRuntimeLibrary: URL? = nil, chatterboxDirectory: URL? = nil) {
        self.home = home
        self.cacheDirectory = cacheDirectory ?? home.appendingPathComponent("cache")
        self.depsDirectory = depsDirectory
        self.onnxRuntimeLibrary = onnxRuntimeLibrary
        self.chatterboxDirectory = chatterboxDirectory ?? home.appendingPathComponent("models/chatterbox")
    }

    /// The paths the environment `env` names (see the list above).
    public static func fromEnvironment(_ env: [String: String]) -> VoxPaths {
        let home: URL
        if let h = env["VOXSERVE_HOME"], !h.isEmpty {
            home = URL(fileURLWithPath: h)
        } else {
            home = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".voxserve")
        }
        let cache = env["VOXSERVE_CACHE_DIR"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
        let deps = env["VOXSERVE_DEPS"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) } ?? locateDeps()
        let library = env["VOXSERVE_ORT_LIBRARY"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
        let chatterbox = env["VOXSERVE_CHATTERBOX_DIR"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
        return VoxPaths(home: home, cacheDirectory: cache, depsDirectory: deps, onnxRuntimeLibrary: library, chatterboxDirectory: chatterbox)
    }

    /// User voices: `$VOXSERVE_HOME/voices`.
    public var voicesDirectory: URL { home.appendingPathComponent("voices") }
    /// Models installed by setup (the default voice): `.deps/models`.
    public var setupModelsDirectory: URL? { depsDirectory?.appendingPathComponent("models") }
    /// Resemblyzer's speaker-encoder weights installed by setup.
    public var resemblyzerWeights: URL? { depsDirectory?.appendingPathComponent("resemblyzer/pretrained.pt") }

    /// Where setup installs the GPU build of ONNX Runtime (`make setup GPU=1`).
    public var gpuRuntimeLibrary: URL? { depsDirectory?.appendingPathComponent("onnxruntime-gpu/lib/libonnxruntime.so.1") }

    /// Folders searched for ONNX Runtime's shared library, GPU build first when asked for.
    public func onnxRuntimeLibraryCandidates(preferGPU: Bool) -> [URL] {
        let explicit = onnxRuntimeLibrary.map { [$0] } ?? []
        guard let deps = depsDirectory, let gpu = gpuRuntimeLibrary else { return explicit }
        let cpu = deps.appendingPathComponent("onnxruntime/lib/libonnxruntime.so.1")
        return explicit + (preferGPU ? [gpu, cpu] : [cpu])
    }

    /// Walks up from the running executable (and the working directory) looking for `.deps`.
    public static func locateDeps() -> URL? {
        var starts: [URL] = []
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        if exe.path.hasPrefix("/") { starts.append(exe.deletingLastPathComponent()) }
        if let p = Bundle.main.executableURL { starts.append(p.resolvingSymlinksInPath().deletingLastPathComponent()) }
        starts.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        for start in starts {
            var dir = start
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent(".deps")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("onnxruntime").path) {
                    return candidate
                }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }
}
