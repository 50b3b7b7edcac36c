/// One sentence of phonemes, as Piper's models expect them: espeak-ng IPA, Unicode NFD, with the
/// clause punctuation (`.` `?` `!` `,` `:` `;`) kept in place. Split `phonemes.unicodeScalars` to
/// get the code points that map to phoneme ids.
public struct PhonemeSentence: Sendable, Equatable {
    /// The part of the input text this sentence was read from, trimmed of surrounding whitespace
    /// (after the phonemizer's own clean-up: NFC, control characters replaced by spaces).
    /// `nil` when it could not be recovered.
    public var text: String?
    /// IPA phonemes in NFD. Clauses inside the sentence keep their terminator; `,` `:` `;` are
    /// followed by a space, `.` `?` `!` end the sentence.
    public var phonemes: String

    public init(text: String?, phonemes: String) {
        self.text = text
        self.phonemes = phonemes
    }
}
