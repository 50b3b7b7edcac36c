/// The speech tokens of one sentence and how their generation went.
public struct ChatterboxGeneration: Sendable, Equatable {
    /// Generated speech tokens, without the start token and without the stop token.
    public var tokens: [Int]
    /// True when generation ended on the stop token; false when it hit the step limit.
    public var stoppedAtStopToken: Bool
    /// Length of the KV cache fed to each language-model run (0 on the first).
    public var cacheLengths: [Int]
    /// Positions in the first step: conditioning + text.
    public var prefixLength: Int
    /// Rows per language-model run: 1, or 2 with classifier-free guidance.
    public var batchSize: Int

    public init(tokens: [Int], stoppedAtStopToken: Bool, cacheLengths: [Int], prefixLength: Int, batchSize: Int) {
        self.tokens = tokens
        self.stoppedAtStopToken = stoppedAtStopToken
        self.cacheLengths = cacheLengths
        self.prefixLength = prefixLength
        self.batchSize = batchSize
    }
}
