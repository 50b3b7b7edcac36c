import Foundation

/// Splits text into sentences so that the first one can be spoken while the rest are synthesized.
/// Used by engines that do not get sentence boundaries from a phonemizer.
public struct TextSegmenter: Sendable {
    /// Sentences longer than this (in characters) are split further at commas, then at spaces.
    public var maxSentenceLength: Int

    public init(maxSentenceLength: Int = 300) {
        self.maxSentenceLength = maxSentenceLength
    }

    private static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no", "fig", "mt", "inc", "ltd", "co",
    ]

    public func sentences(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            current.append(c)
            if c == "." || c == "!" || c == "?" || c == "\n" || c == "。" || c == "！" || c == "？" {
                // absorb closing quotes/brackets and repeated terminators
                while i + 1 < chars.count, ".!?\"'”’)]".contains(chars[i + 1]) {
                    i += 1
                    current.append(chars[i])
                }
                let atEnd = i + 1 >= chars.count || chars[i + 1].isWhitespace
                if atEnd && !(c == "." && endsWithAbbreviation(current)) {
                    flush(&current, into: &result)
                }
            }
            i += 1
        }
        flush(&current, into: &result)
        return result.flatMap(splitLong)
    }

    private func endsWithAbbreviation(_ s: String) -> Bool {
        let trimmed = s.trimmingCharacters(in: .whitespaces).dropLast()
        guard let lastWord = trimmed.split(whereSeparator: { $0.isWhitespace }).last else { return false }
        let word = lastWord.lowercased()
        if Self.abbreviations.contains(word) { return true }
        // single capital letter initial ("J. R. R. Tolkien")
        return word.count == 1 && lastWord.first!.isUppercase
    }

    private func flush(_ current: inout String, into result: inout [String]) {
        let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !s.isEmpty { result.append(s) }
        current = ""
    }

    private func splitLong(_ sentence: String) -> [String] {
        guard sentence.count > maxSentenceLength else { return [sentence] }
        var parts: [String] = []
        var current = ""
        for word in sentence.split(separator: " ", omittingEmptySubsequences: true) {
            if !current.isEmpty && current.count + word.count + 1 > maxSentenceLength {
                parts.append(current)
                current = ""
            }
            current += current.isEmpty ? String(word) : " " + word
            if current.count >= maxSentenceLength / 2, let last = word.last, ",;:".contains(last) {
                parts.append(current)
                current = ""
            }
        }
        if !current.isEmpty { parts.append(current) }
        return parts
    }
}

