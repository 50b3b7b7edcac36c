import Foundation

/// Splits text into sentences so that the first one can be spoken while the rest are synthesized.
/// Used by engines that do not get sentence boundaries from a phonemizer.
public struct TextSegmenter: Sendable {
    /// Sentences longer than this (in characters) are split further at commas, then at spaces.
    public var maxSentenceLength: Int

    public init(maxSentenceLength: Int = 300) {
        self.maxSentenceLength = maxSentenceLength
    }

    /// Words that end in a period without ending the sentence. "No." is one only before a number
    /// ("No. 5"), so it is handled on its own.
    private static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "fig", "mt", "inc", "ltd", "co",
    ]

    /// Full-width terminators end a sentence even with no space after them: Chinese and Japanese
    /// put none between sentences.
    private static let fullWidthTerminators: Set<Character> = ["。", "！", "？"]
    private static let terminators: Set<Character> = fullWidthTerminators.union([".", "!", "?"])

    /// What a terminator takes along: more terminators ("?!", "...") and closing quotes or brackets.
    private static let closers: Set<Character> = terminators.union(["\"", "'", "”", "’", ")", "]", "」", "』", "）"])

    public func sentences(_ text: String) -> [String] {
        let chars = Array(text)
        var result: [String] = []
        var start = 0
        for end in boundaries(chars) {
            append(chars[start..<end], to: &result)
            start = end
        }
        append(chars[start...], to: &result)
        return result.flatMap(splitLong)
    }

    /// The sentences of text that is still arriving (from a language model, say): those surely
    /// complete, and the rest, which the next piece may continue. A sentence is surely complete
    /// once more words follow its end ("Hello." alone may yet become "Hello.5"; "No. " may yet
    /// become "No. 5"). A rest longer than `maxSentenceLength` is split as `sentences` splits a
    /// long sentence, and all but its last part count as complete, so the rest stays bounded.
    public func completeSentences(_ text: String) -> (sentences: [String], rest: String) {
        let chars = Array(text)
        var result: [String] = []
        let lastWord = chars.lastIndex { !$0.isWhitespace } ?? -1
        var start = 0
        for end in boundaries(chars) where end <= lastWord {
            append(chars[start..<end], to: &result)
            start = end
        }
        var rest = String(chars[start...].drop { $0.isWhitespace })
        var parts = splitLong(rest.trimmingCharacters(in: .whitespacesAndNewlines))
        if parts.count > 1 {
            rest = parts.removeLast()
            result.append(contentsOf: parts)
        }
        return (result.flatMap(splitLong), rest)
    }

    /// Where sentences end: the index after each one's last character (its closers included).
    private func boundaries(_ chars: [Character]) -> [Int] {
        var ends: [Int] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            // `isNewline` also covers "\r\n", which Swift keeps as one character.
            if c.isNewline || Self.terminators.contains(c) {
                while i + 1 < chars.count, Self.closers.contains(chars[i + 1]) {
                    i += 1
                }
                let atEnd = i + 1 >= chars.count || chars[i + 1].isWhitespace || Self.fullWidthTerminators.contains(c)
                if atEnd && !(c == "." && endsWithAbbreviation(String(chars[(ends.last ?? 0)..<(i + 1)]), before: chars[(i + 1)...])) {
                    ends.append(i + 1)
                }
            }
            i += 1
        }
        return ends
    }

    /// Whether the period that ends `s` belongs to an abbreviation; `rest` is the text after it.
    private func endsWithAbbreviation(_ s: String, before rest: ArraySlice<Character>) -> Bool {
        let trimmed = s.trimmingCharacters(in: .whitespaces).dropLast()
        guard let lastWord = trimmed.split(whereSeparator: { $0.isWhitespace }).last else { return false }
        let word = lastWord.lowercased()
        if word == "no" { return rest.first { !$0.isWhitespace }?.isNumber == true }
        if Self.abbreviations.contains(word) { return true }
        // single capital letter initial ("J. R. R. Tolkien")
        return word.count == 1 && lastWord.first!.isUppercase
    }

    private func append(_ sentence: ArraySlice<Character>, to result: inout [String]) {
        let s = String(sentence).trimmingCharacters(in: .whitespacesAndNewlines)
        if !s.isEmpty { result.append(s) }
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
