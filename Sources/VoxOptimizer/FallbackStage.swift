/// Where a plan entry failed.
public enum FallbackStage: String, Sendable, Hashable, Codable {
    /// Building the engine (loading sessions) failed.
    case load
    /// The warm-up synthesis at start failed or gave unusable audio.
    case warmUp = "warm_up"
    /// A request's synthesis failed or gave unusable audio.
    case synthesis
    /// A streamed request failed or gave unusable audio.
    case stream
}
