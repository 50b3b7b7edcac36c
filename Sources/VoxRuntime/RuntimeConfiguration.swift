import Foundation
import VoxCore
import VoxONNX
import VoxOptimizer

/// How this process builds and runs engines, read once at start (from the command line and the
/// environment, in `voxserve`) and passed down as a value: no library reads the environment.
public struct RuntimeConfiguration: Sendable, Equatable {
    public var paths: VoxPaths
    /// False bypasses the optimizer entirely: the plain engine with ONNX Runtime's default
    /// settings (`--no-optimize`, `VOXSERVE_OPTIMIZE=0`).
    public var optimize: Bool
    /// What the user forced on the execution plan.
    public var overrides: PlanOverrides
    /// Synthesize a short text once when a Piper engine is built (right for a server, wasted on a
    /// one-shot CLI call).
    public var warmUp: Bool
    /// Bearer key the server requires on `/v1/*` (`VOXSERVE_API_KEY`); nil: none.
    public var apiKey: String?
    /// Names (lowercase) that stand for another voice when no voice has them: OpenAI's voice
    /// names stand for the default voice unless `VOXSERVE_VOICE_ALIASES` or `--voice-alias` say otherwise.
    public var voiceAliases: [String: String]
    /// Benchmarks only (`serve --bench-max-new-tokens`): every Chatterbox sentence generates exactly
    /// this many tokens, never stopping on the stop token, so that stand-ins with random weights
    /// (which never choose it) give runs of a known length. Nil in any real use.
    public var benchMaxNewTokens: Int?

    public init(
        paths: VoxPaths, optimize: Bool = true, overrides: PlanOverrides = PlanOverrides(), warmUp: Bool = true,
        apiKey: String? = nil, voiceAliases: [String: String] = VoiceRegistry.openAIAliases
    ) {
        self.paths = paths
        self.optimize = optimize
        self.overrides = overrides
        self.warmUp = warmUp
        self.apiKey = apiKey
        self.voiceAliases = voiceAliases
    }

    /// The one reading of VoxServe's environment variables: the paths (`VOXSERVE_HOME`,
    /// `VOXSERVE_CACHE_DIR`, `VOXSERVE_DEPS`, `VOXSERVE_ORT_LIBRARY`, `VOXSERVE_CHATTERBOX_DIR`),
    /// `VOXSERVE_OPTIMIZE=0`, `VOXSERVE_API_KEY` and `VOXSERVE_VOICE_ALIASES` ("nova=alice,onyx=bob";
    /// a malformed value is reported by `voiceAliasProblem(in:)` and otherwise ignored),
    /// `VOXSERVE_PROVIDER` (cpu|cuda), `VOXSERVE_GPU_MEMORY_LIMIT` ("6G", "512M", bytes) and
    /// `VOXSERVE_MAX_BATCH` (Chatterbox sentences decoding together; 1 turns batching off); values
    /// that do not parse are ignored here and refused by the CLI's validation.
    public static func fromEnvironment(_ env: [String: String]) -> RuntimeConfiguration {
        var overrides = PlanOverrides()
        overrides.provider = env["VOXSERVE_PROVIDER"].flatMap { ExecutionProvider(rawValue: $0.lowercased()) }
        overrides.gpuMemoryLimitBytes = env["VOXSERVE_GPU_MEMORY_LIMIT"].flatMap(parseByteSize)
        overrides.maxBatch = env["VOXSERVE_MAX_BATCH"].flatMap { Int($0) }.flatMap { $0 >= 1 ? $0 : nil }
        return RuntimeConfiguration(
            paths: .fromEnvironment(env), optimize: env["VOXSERVE_OPTIMIZE"] != "0", overrides: overrides,
            apiKey: env["VOXSERVE_API_KEY"].flatMap { $0.isEmpty ? nil : $0 },
            voiceAliases: VoiceRegistry.openAIAliases.merging((try? environmentAliases(env)) ?? [:]) { $1 })
    }

    /// "6G", "6GiB", "512M", "1.5g", "1048576": bytes (binary units). Nil when it does not parse or is 0.
    public static func parseByteSize(_ text: String) -> UInt64? {
        var t = text.trimmingCharacters(in: .whitespaces).lowercased()
        for suffix in ["ib", "b"] where t.hasSuffix(suffix) && t.count > suffix.count { t.removeLast(suffix.count); break }
        var scale: Double = 1
        if let last = t.last, let power = ["k": 1.0, "m": 2.0, "g": 3.0, "t": 4.0][String(last)] {
            scale = pow(1024, power)
            t.removeLast()
        }
        guard let number = Double(t), number > 0, number.isFinite else { return nil }
        let bytes = number * scale
        return bytes < 1 || bytes > Double(UInt64.max / 2) ? nil : UInt64(bytes)
    }

    /// `VOXSERVE_VOICE_ALIASES`, parsed.
    public static func environmentAliases(_ env: [String: String]) throws -> [String: String] {
        try VoiceRegistry.parseAliases(env["VOXSERVE_VOICE_ALIASES"].map { [$0] } ?? [])
    }
}
