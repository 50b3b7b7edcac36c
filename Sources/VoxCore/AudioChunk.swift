/// A piece of an utterance handed out as soon as it is ready (a sentence, or a token chunk).
public struct AudioChunk: Sendable, Equatable {
    public var audio: AudioBuffer
    /// 0-based position in the utterance.
    public var index: Int
    /// The text this chunk speaks, when known.
    public var text: String?
    public var isLast: Bool

    public init(audio: AudioBuffer, index: Int, text: String? = nil, isLast: Bool) {
        self.audio = audio
        self.index = index
        self.text = text
        self.isLast = isLast
    }
}
