import Foundation

/// Chatterbox's text clean-up before tokenizing (its Python package calls it `punc_norm`): a capital
/// first letter, single spaces, plain ASCII punctuation for the typographic kinds models rarely
/// saw, and a full stop when the sentence ends without punctuation. Turbo's own `punc_norm`
/// (`tts_turbo.py`) keeps `...`, ` - ` and `;`, which the original model's (`tts.py`) rewrites.
public enum ChatterboxTextNormalizer {
    private static let original: [(String, String)] = [
        ("...", ", "), ("…", ", "), (":", ","), (" - ", ", "), (";", ", "), ("—", "-"), ("–", "-"),
        (" ,", ","), ("“", "\""), ("”", "\""), ("‘", "'"), ("’", "'"),
    ]
    private static let turbo = original.filter { !["...", " - ", ";"].contains($0.0) }
    private static let sentenceEnders: Set<Character> = [".", "!", "?", "-", ","]

    public static func normalize(_ text: String, flavor: ChatterboxModelLayout.Flavor = .original) -> String {
        let replacements = flavor == .turbo ? turbo : original
        var s = text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        guard let first = s.first else { return s }
        if first.isLowercase { s = first.uppercased() + s.dropFirst() }
        for (from, to) in replacements { s = s.replacingOccurrences(of: from, with: to) }
        s = s.split(separator: " ").joined(separator: " ")
        if let last = s.last, !sentenceEnders.contains(last), !(s.hasSuffix("]")) {
            s += "."
        }
        return s
    }
}
