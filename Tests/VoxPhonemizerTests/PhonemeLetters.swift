import Foundation

/// The fair comparison between the library's phonemes and the `espeak-ng --ipa` CLI's.
///
/// The two differ in form, not in the phonemes: the CLI prints one line per clause and drops
/// punctuation, while the phonemizer keeps Piper's terminators (`.` `?` `!` `,` `:` `;`) and joins
/// clauses into sentences. So both sides are reduced to their phoneme letters:
/// - NFD on both (the phonemizer emits NFD, as Piper does; the CLI emits NFC);
/// - whitespace removed (line breaks versus spaces between clauses);
/// - the six terminators removed;
/// - language switch flags such as `(en)` removed (the phonemizer strips them, the CLI prints them);
/// - stress marks `ˈ` `ˌ` removed: the CLI phonemizes while synthesizing, where espeak-ng stresses
///   some clause-final function words differently from `espeak_TextToPhonemes` (the CLI prints
///   `wˈʌt` for the "what" of "Wait... what?", the library `wˌʌt`; "this, is:" gives `ˈɪz` versus
///   `ɪz`). The stress itself is pinned by the literal expectations in ``PiperRulesTests``.
/// Length marks and every other IPA letter stay, so a wrong, missing or reordered phoneme still
/// fails the comparison.
enum PhonemeLetters {
    static func of(_ phonemes: String) -> String {
        var result = String.UnicodeScalarView()
        var inFlag = false
        for scalar in phonemes.decomposedStringWithCanonicalMapping.unicodeScalars {
            if inFlag {
                if scalar == ")" { inFlag = false }
                continue
            }
            if scalar == "(" {
                inFlag = true
                continue
            }
            if scalar.properties.isWhitespace || ".?!,:;\u{02C8}\u{02CC}".unicodeScalars.contains(scalar) { continue }
            result.append(scalar)
        }
        return String(result)
    }
}
