/// GPT-2's pre-tokenization: the text is cut where the regular expression
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` would cut it,
/// written out by hand (no regex engine) so it behaves the same on every platform.
enum GPT2PreTokenizer {
    private static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    private enum Class { case letter, number, space, other }

    private static func classify(_ s: Unicode.Scalar) -> Class {
        let p = s.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The pieces of `text`, in order; joined they give `text` back.
    static func split(_ text: some StringProtocol) -> [String] {
        let scalars = Array(text.unicodeScalars)
        let classes = scalars.map(classify)
        let n = scalars.count
        var pieces: [String] = []
        var i = 0
        func piece(_ from: Int, _ to: Int) -> String {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[from..<to])
            return String(view)
        }
        while i < n {
            if scalars[i] == "'", let suffix = contractions.first(where: { matches($0, in: scalars, at: i + 1) }) {
                pieces.append(piece(i, i + 1 + suffix.count))
                i += 1 + suffix.count
                continue
            }
            // ` ?X+` for letters, numbers and everything else but whitespace.
            let j = scalars[i] == " " ? i + 1 : i
            var end: Int
            if j < n, classes[j] != .space {
                let kind = classes[j]
                end = j
                while end < n, classes[end] == kind { end += 1 }
            } else {
                // `\s+(?!\S)`, else `\s+`: a run of whitespace leaves its last character to the word after it.
                end = i
                while end < n, classes[end] == .space { end += 1 }
                if end < n, end - i >= 2 { end -= 1 }
            }
            pieces.append(piece(i, end))
            i = end
        }
        return pieces
    }

    private static func matches(_ suffix: [Unicode.Scalar], in scalars: [Unicode.Scalar], at start: Int) -> Bool {
        guard start + suffix.count <= scalars.count else { return false }
        for (k, s) in suffix.enumerated() where scalars[start + k] != s { return false }
        return true
    }
}
