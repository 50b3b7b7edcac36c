import VoxCore

/// Recovers the source text of each clause from where `espeak_TextToPhonemes` leaves its text
/// pointer.
///
/// espeak-ng reads one character past the end of a clause (after the terminator and any spaces)
/// to decide whether the clause really ends there, keeps that character in its own state and
/// reads it first in the next call. So after every call that does not end the text, the last
/// character the pointer skipped belongs to the next clause. The tracker works on the UTF-8
/// bytes it was given and only cuts at character boundaries.
struct ClauseSourceTracker {
    private let bytes: [UInt8]
    /// Where the current clause's source text starts.
    private var clauseStart = 0
    /// Where espeak-ng's pointer stood before the latest call.
    private var consumed = 0

    init(utf8 bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Records one `espeak_TextToPhonemes` call: `offset` is the byte offset the pointer was
    /// advanced to, `nil` when espeak-ng set it to NULL (end of text).
    mutating func advance(to offset: Int?, phonemes: String) throws -> EspeakClause {
        let coreEnd: Int
        let newConsumed: Int
        if let offset {
            guard offset >= consumed, offset <= bytes.count else {
                throw VoxError.engineFailure(
                    "espeak-ng moved its text pointer outside the text it was given.",
                    detail: "offset \(offset), previous \(consumed), length \(bytes.count)"
                )
            }
            var lookAhead = offset
            if offset > consumed {
                lookAhead = offset - 1
                while lookAhead > consumed, bytes[lookAhead] & 0xC0 == 0x80 { lookAhead -= 1 }
            }
            coreEnd = lookAhead
            newConsumed = offset
        } else {
            coreEnd = bytes.count
            newConsumed = bytes.count
        }

        let core = decode(clauseStart..<coreEnd)
        let coreScalars = Substring(core).unicodeScalars
        let terminator = ClauseTerminator(clauseText: coreScalars)
        let paragraph = ClauseTerminator.endsParagraph(coreScalars)

        // A closing quote or bracket right after the terminator (`"Hi." Then`) is espeak-ng's
        // look-ahead, but it belongs to this clause's text.
        var sourceEnd = coreEnd
        if coreEnd < newConsumed, terminator != .none,
           let last = coreScalars.last, !last.properties.isWhitespace,
           let lookAhead = decode(coreEnd..<newConsumed).unicodeScalars.first, Self.isClosing(lookAhead) {
            sourceEnd = newConsumed
        }

        let clause = EspeakClause(
            phonemes: phonemes,
            text: decode(clauseStart..<sourceEnd),
            terminator: terminator,
            endsParagraph: paragraph
        )
        clauseStart = sourceEnd
        consumed = newConsumed
        return clause
    }

    private func decode(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    private static func isClosing(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .closePunctuation, .finalPunctuation: true
        default: scalar == "\"" || scalar == "'"
        }
    }
}
