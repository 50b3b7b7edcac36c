/// One clause as espeak-ng returned it, with the source text it was read from.
struct EspeakClause: Sendable, Equatable {
    /// The IPA phonemes exactly as `espeak_TextToPhonemes` returned them.
    var phonemes: String
    /// The source text of the clause (its terminator included).
    var text: String
    var terminator: ClauseTerminator
    /// A blank line follows the clause: espeak-ng ends the sentence there.
    var endsParagraph: Bool

    var endsSentence: Bool { terminator.endsSentence || endsParagraph }
}
