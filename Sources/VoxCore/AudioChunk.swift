/// A piece of an utterance handed out as soon as it is ready (a sentence, or a token chunk).
public struct AudioChunk: Sendable, Equatable {
    public var audio: AudioBuffer
    /// 0-based position in the utterance.
    public var index: Int
    /// The text this chunk speaks, when known.
    public var text: String?
    public var isLast: Bool
    /// Where the voice conditioning this chunk was spoken with came from; nil for an engine that
    /// needs none (a Piper voice is a whole model). Travels with the audio so that each request
    /// reads its own outcome, in this process or from a worker.
    public var conditioning: ConditioningCacheOutcome?

    public init(audio: AudioBuffer, index: Int, text: String? = nil, isLast: Bool, conditioning: ConditioningCacheOutcome? = nil) {
        self.audio = audio
        self.index = index
        self.text = text
        self.isLast = isLast
        self.conditioning = conditioning
    }
}

/// Where a conditioning cache's answer came from.
public enum ConditioningCacheOutcome: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    /// Found in the memory tier.
    case memoryHit = "memory_hit"
    /// Read from a disk entry (and now also held in memory).
    case diskHit = "disk_hit"
    /// Computed by the engine (and now stored). A request that joined a computation already in
    /// flight for the same key also reports `.miss`: it waited for the same computation.
    case miss

    /// True when nothing had to be computed.
    public var isHit: Bool { self != .miss }
}
