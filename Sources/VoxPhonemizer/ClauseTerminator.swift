/// How an espeak-ng clause ended, recovered from the text that espeak-ng consumed for it.
///
/// espeak-ng 1.51 has no `espeak_TextToPhonemesWithTerminator`, so the terminator is read back from
/// the source text. The rendering follows Piper (`phonemize_eSpeak` in piper-phonemize and
/// piper1-gpl): `.` `?` `!` are appended and end the sentence; `,` `:` `;` are appended with a
/// trailing space and keep the sentence open. Everything else appends nothing.
enum ClauseTerminator: Sendable, Equatable {
    case period
    case question
    case exclamation
    case comma
    case colon
    case semicolon
    /// `…` or three or more dots: espeak-ng reads these as an ellipsis, a clause (not sentence)
    /// break with no punctuation of Piper's.
    case ellipsis
    /// Ideographic / full-width sentence ends (`。` `．` `！` `？`): espeak-ng ends the sentence, and
    /// Piper appends no punctuation for them.
    case fullWidthSentenceEnd
    /// The clause ended without punctuation Piper keeps: end of text, a hyphen, a long clause split,
    /// or punctuation Piper does not render.
    case none

    /// The characters Piper appends to the clause's phonemes.
    var phonemeSuffix: String {
        switch self {
        case .period: "."
        case .question: "?"
        case .exclamation: "!"
        case .comma: ", "
        case .colon: ": "
        case .semicolon: "; "
        case .ellipsis, .fullWidthSentenceEnd, .none: ""
        }
    }

    /// Whether the clause closes the current sentence.
    var endsSentence: Bool {
        switch self {
        case .period, .question, .exclamation, .fullWidthSentenceEnd: true
        case .comma, .colon, .semicolon, .ellipsis, .none: false
        }
    }

    /// Classifies the end of a clause's source text (without espeak-ng's look-ahead character).
    ///
    /// Trailing whitespace is ignored. In a run of `?` and `!` the first one decides, as in
    /// espeak-ng (`What?!` is a question).
    init(clauseText: Substring.UnicodeScalarView) {
        var end = clauseText.endIndex
        while end > clauseText.startIndex, clauseText[clauseText.index(before: end)].properties.isWhitespace {
            end = clauseText.index(before: end)
        }
        guard end > clauseText.startIndex else {
            self = .none
            return
        }
        let lastIndex = clauseText.index(before: end)
        switch clauseText[lastIndex] {
        case "?", "!":
            var first = lastIndex
            while first > clauseText.startIndex, "?!".unicodeScalars.contains(clauseText[clauseText.index(before: first)]) {
                first = clauseText.index(before: first)
            }
            self = clauseText[first] == "?" ? .question : .exclamation
        case ".":
            var dots = 1
            var index = lastIndex
            while index > clauseText.startIndex, clauseText[clauseText.index(before: index)] == "." {
                index = clauseText.index(before: index)
                dots += 1
            }
            self = dots >= 3 ? .ellipsis : .period
        case ",": self = .comma
        case ":": self = .colon
        case ";": self = .semicolon
        // espeak-ng gives the en and em dash and the inverted marks a semicolon's clause type,
        // which piper renders as "; " (checked against piper-tts 1.8.0 by PiperParityTests).
        case "\u{2013}", "\u{2014}", "\u{00A1}", "\u{00BF}": self = .semicolon
        case "\u{2026}": self = .ellipsis
        case "\u{3002}", "\u{FF0E}", "\u{FF01}", "\u{FF1F}": self = .fullWidthSentenceEnd
        default: self = .none
        }
    }

    /// Whether the whitespace after the clause holds a blank line (two line feeds, or a Unicode
    /// paragraph separator): espeak-ng reports that as a paragraph, which ends the sentence.
    static func endsParagraph(_ clauseText: Substring.UnicodeScalarView) -> Bool {
        var lineFeeds = 0
        for scalar in clauseText.reversed() {
            guard scalar.properties.isWhitespace else { break }
            if scalar == "\u{2029}" { return true }
            if scalar == "\n" { lineFeeds += 1 }
        }
        return lineFeeds >= 2
    }
}
