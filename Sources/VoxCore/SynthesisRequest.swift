/// What to say and how. Optional fields fall back to the voice's own defaults.
public struct SynthesisRequest: Sendable, Equatable {
    public var text: String
    /// Voice name as the voice library knows it; nil means the engine's default.
    public var voice: String?
    /// Speaker id for multi-speaker voices.
    public var speakerID: Int?
    /// VITS length scale (larger is slower): the model's own pace.
    public var lengthScale: Float?
    public var noiseScale: Float?
    public var noiseW: Float?
    /// OpenAI-style speed (0.25...4); 1 is the voice's natural pace. Piper time-stretches its
    /// audio (pitch kept) so that the duration is 1/speed of the natural one.
    public var speed: Float
    /// Reference recording for cloning engines.
    public var reference: VoiceReference?
    /// Seed for engines that sample.
    public var seed: UInt64?
    /// The engine the caller asked for by name (`piper`, `chatterbox`): a voice another engine
    /// speaks is refused rather than spoken by that other engine. Nil: whichever speaks the voice.
    public var engine: String?

    public init(
        text: String, voice: String? = nil, speakerID: Int? = nil, lengthScale: Float? = nil,
        noiseScale: Float? = nil, noiseW: Float? = nil, speed: Float = 1, reference: VoiceReference? = nil,
        seed: UInt64? = nil, engine: String? = nil
    ) {
        self.text = text
        self.voice = voice
        self.speakerID = speakerID
        self.lengthScale = lengthScale
        self.noiseScale = noiseScale
        self.noiseW = noiseW
        self.speed = speed
        self.reference = reference
        self.seed = seed
        self.engine = engine
    }

    /// Longest text a single request may carry.
    public static let maxTextLength = 10_000

    /// Throws a clear error for text that cannot be spoken, text longer than `maxTextLength` and
    /// out-of-range parameters. The entry point (server, CLI) calls this with its configured limit.
    public func validate(maxTextLength: Int = SynthesisRequest.maxTextLength) throws {
        if text.count > maxTextLength {
            throw VoxError.invalidInput("The text is \(text.count) characters long; the limit is \(maxTextLength). Split it into several requests.")
        }
        try validateParameters()
    }

    /// The checks an engine makes itself: empty text and out-of-range parameters. The length limit
    /// is the entry point's to set (`validate(maxTextLength:)`), so engines do not apply a default one.
    public func validateParameters() throws {
        if text.allSatisfy({ $0.isWhitespace || $0.isNewline }) {
            throw VoxError.invalidInput("The text is empty: give at least one word to speak.")
        }
        if !(speed.isFinite && speed >= 0.25 && speed <= 4) {
            throw VoxError.invalidInput("speed must be between 0.25 and 4 (got \(speed)).")
        }
        for (name, value) in [("length_scale", lengthScale), ("noise_scale", noiseScale), ("noise_w", noiseW)] {
            if let v = value, !(v.isFinite && v >= 0 && v <= 10) {
                throw VoxError.invalidInput("\(name) must be between 0 and 10 (got \(v)).")
            }
        }
        if let s = speakerID, s < 0 {
            throw VoxError.invalidInput("speaker id must not be negative (got \(s)).")
        }
    }
}
