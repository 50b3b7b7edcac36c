import Foundation

/// Groups espeak-ng clauses into sentences the way Piper does: language switch flags removed,
/// NFD, the clause terminator appended (`,` `:` `;` with a space), and `.` `?` `!` closing the
/// sentence.
///
/// Where a clause ends without punctuation Piper keeps (a dash, an ellipsis, a long clause that
/// espeak-ng split), Piper glues the next clause's phonemes on directly; this joins them with one
/// space so that the last word of one clause does not run into the first word of the next.
struct SentenceAssembler {
    private(set) var sentences: [PhonemeSentence] = []
    private var phonemes = ""
    private var text = ""
    private var needsSpace = false

    mutating func append(_ clause: EspeakClause) {
        let clausePhonemes = Self.removingLanguageFlags(clause.phonemes).decomposedStringWithCanonicalMapping
        text += clause.text
        // espeak-ng yields no phonemes for a clause of only punctuation; Piper's terminator
        // would then stand alone, so it is dropped with the clause.
        if !clausePhonemes.isEmpty {
            if needsSpace { phonemes += " " }
            phonemes += clausePhonemes
            phonemes += clause.terminator.phonemeSuffix
            needsSpace = clause.terminator.phonemeSuffix.isEmpty
        }
        if clause.endsSentence { closeSentence() }
    }

    /// Closes the last sentence (text need not end with a terminator) and returns all of them.
    mutating func finish() -> [PhonemeSentence] {
        closeSentence()
        return sentences
    }

    private mutating func closeSentence() {
        if !phonemes.isEmpty {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            sentences.append(PhonemeSentence(text: trimmed, phonemes: phonemes))
        }
        phonemes = ""
        text = ""
        needsSpace = false
    }

    /// Removes espeak-ng's language switch flags such as `(en)` and `(fr)`, which surround words
    /// it read with another language's rules. As in Piper, everything from `(` to `)` goes.
    static func removingLanguageFlags(_ phonemes: String) -> String {
        var result = String.UnicodeScalarView()
        var inFlag = false
        for scalar in phonemes.unicodeScalars {
            if inFlag {
                if scalar == ")" { inFlag = false }
            } else if scalar == "(" {
                inFlag = true
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }
}
