import Foundation
import VoxCore
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
    /// a malformed value is reported by `voiceAliasProblem(in:)` and otherwise ignored).
    public static func fromEnvironment(_ env: [String: String]) -> RuntimeConfiguration {
        RuntimeConfiguration(
            paths: .fromEnvironment(env), optimize: env["VOXSERVE_OPTIMIZE"] != "0",
            apiKey: env["VOXSERVE_API_KEY"].flatMap { $0.isEmpty ? nil : $0 },
            voiceAliases: VoiceRegistry.openAIAliases.merging((try? environmentAliases(env)) ?? [:]) { $1 })
    }

    /// `VOXSERVE_VOICE_ALIASES`, parsed.
    public static func environmentAliases(_ env: [String: String]) throws -> [String: String] {
        try VoiceRegistry.parseAliases(env["VOXSERVE_VOICE_ALIASES"].map { [$0] } ?? [])
    }
}
