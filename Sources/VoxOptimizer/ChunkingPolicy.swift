/// How an engine cuts work so that the first audio comes early.
public struct ChunkingPolicy: Sendable, Equatable, Codable {
    /// Synthesize sentence by sentence and hand each out when ready (every engine).
    public var splitSentences: Bool
    /// Sentences longer than this are split at commas, then spaces (`TextSegmenter`).
    public var maxSentenceCharacters: Int
    /// For token-generating engines (Chatterbox, 25 speech tokens per second of audio): tokens
    /// decoded into the first audio chunk. Small, so that the first audio comes early.
    public var firstChunkTokens: Int
    /// Tokens per later chunk: larger, so that the decoder's fixed cost per call and the seams
    /// between chunks are paid less often.
    public var chunkTokens: Int
    /// For engines whose sentences are independent (Piper): how many sentences run at once, each
    /// with `intraOpThreads / parallelSentences` threads. Still handed out in order.
    public var parallelSentences: Int

    public init(
        splitSentences: Bool = true, maxSentenceCharacters: Int = 300, firstChunkTokens: Int = 25, chunkTokens: Int = 50,
        parallelSentences: Int = 1
    ) {
        self.splitSentences = splitSentences
        self.maxSentenceCharacters = maxSentenceCharacters
        self.firstChunkTokens = firstChunkTokens
        self.chunkTokens = chunkTokens
        self.parallelSentences = parallelSentences
    }
}
