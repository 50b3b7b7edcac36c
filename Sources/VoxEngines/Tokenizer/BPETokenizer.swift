import Foundation

/// A byte-pair-encoding tokenizer read from a model's own files: Hugging Face's `tokenizer.json`,
/// or GPT-2's `vocab.json` + `merges.txt`. Byte-level BPE (GPT-2, Chatterbox Turbo) and
/// character-level BPE (Chatterbox's original English tokenizer) are both covered; added tokens
/// (`<|endoftext|>`, `[chuckle]`, …) are matched in the raw text before anything else.
public struct BPETokenizer: Sendable {
    /// How text is cut into words before BPE runs on each word.
    public enum PreTokenization: Sendable, Equatable {
        /// GPT-2: the text's UTF-8 bytes written in the byte alphabet, cut by GPT-2's pattern.
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
        /// `\w+|[^\w\s]+`, whitespace dropped.
        case whitespace
        /// Cut at whitespace, which is dropped.
        case whitespaceSplit
        /// The whole text is one word.
        case none
    }

    /// A text rewrite applied before pre-tokenization (Hugging Face normalizers).
    public enum Normalization: Sendable, Equatable {
        case replace(String, with: String)
        case lowercase
        case nfc, nfd, nfkc, nfkd
        case strip(left: Bool, right: Bool)
    }

    struct Pair: Hashable, Sendable {
        let left: String
        let right: String
    }

    /// Token → id.
    public let vocabulary: [String: Int]
    /// Tokens matched verbatim in the text before BPE (special tokens, tags), → id.
    public let addedTokens: [String: Int]
    public let preTokenization: PreTokenization
    public let normalizations: [Normalization]
    /// Ids put before and after the text's own ids (a `TemplateProcessing` post-processor).
    public let prefixIDs: [Int]
    public let suffixIDs: [Int]
    /// Id given to a piece the vocabulary lacks (character-level BPE); nil drops such pieces.
    public let unknownID: Int?
    let mergeRanks: [Pair: Int]
    private let addedByFirstScalar: [Unicode.Scalar: [[Unicode.Scalar]]]

    public init(
        vocabulary: [String: Int], merges: [(String, String)], addedTokens: [String: Int] = [:],
        preTokenization: PreTokenization = .byteLevel(addPrefixSpace: false, useRegex: true),
        normalizations: [Normalization] = [], prefixIDs: [Int] = [], suffixIDs: [Int] = [], unknownID: Int? = nil
    ) {
        self.vocabulary = vocabulary
        self.addedTokens = addedTokens
        self.preTokenization = preTokenization
        self.normalizations = normalizations
        self.prefixIDs = prefixIDs
        self.suffixIDs = suffixIDs
        self.unknownID = unknownID
        var ranks: [Pair: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            let pair = Pair(left: merge.0, right: merge.1)
            if ranks[pair] == nil { ranks[pair] = rank }
        }
        self.mergeRanks = ranks
        var byFirst: [Unicode.Scalar: [[Unicode.Scalar]]] = [:]
        for token in addedTokens.keys where !token.isEmpty {
            let scalars = Array(token.unicodeScalars)
            byFirst[scalars[0], default: []].append(scalars)
        }
        for key in byFirst.keys { byFirst[key]!.sort { $0.count > $1.count } }
        self.addedByFirstScalar = byFirst
    }

    public var isByteLevel: Bool {
        if case .byteLevel = preTokenization { return true }
        return false
    }

    /// The id of a token (added tokens included).
    public func id(for token: String) -> Int? { addedTokens[token] ?? vocabulary[token] }

    /// The ids of `text`; `addSpecialTokens` adds the template's ids around them.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = addSpecialTokens ? prefixIDs : []
        for piece in splitAddedTokens(text) {
            switch piece {
            case .added(let id):
                ids.append(id)
            case .text(let raw):
                for word in preTokenize(normalize(raw)) {
                    ids.append(contentsOf: encodeWord(word))
                }
            }
        }
        if addSpecialTokens { ids += suffixIDs }
        return ids
    }

    // MARK: steps

    enum Piece: Equatable {
        case added(Int)
        case text(String)
    }

    /// The text cut around added tokens, longest match first.
    func splitAddedTokens(_ text: String) -> [Piece] {
        guard !addedByFirstScalar.isEmpty else { return [.text(text)] }
        let scalars = Array(text.unicodeScalars)
        var pieces: [Piece] = []
        var start = 0
        var i = 0
        func flush(_ end: Int) {
            guard start < end else { return }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[start..<end])
            pieces.append(.text(String(view)))
        }
        while i < scalars.count {
            if let candidates = addedByFirstScalar[scalars[i]],
               let hit = candidates.first(where: { i + $0.count <= scalars.count && Array(scalars[i..<(i + $0.count)]) == $0 }) {
                flush(i)
                var view = String.UnicodeScalarView()
                view.append(contentsOf: hit)
                pieces.append(.added(addedTokens[String(view)]!))
                i += hit.count
                start = i
            } else {
                i += 1
            }
        }
        flush(scalars.count)
        return pieces
    }

    func normalize(_ text: String) -> String {
        var s = text
        for step in normalizations {
            switch step {
            case .replace(let pattern, let content): s = s.replacingOccurrences(of: pattern, with: content)
            case .lowercase: s = s.lowercased()
            case .nfc: s = s.precomposedStringWithCanonicalMapping
            case .nfd: s = s.decomposedStringWithCanonicalMapping
            case .nfkc: s = s.precomposedStringWithCompatibilityMapping
            case .nfkd: s = s.decomposedStringWithCompatibilityMapping
            case .strip(let left, let right):
                var scalars = Substring(s).unicodeScalars[...]
                if left { while let f = scalars.first, f.properties.isWhitespace { scalars.removeFirst() } }
                if right { while let l = scalars.last, l.properties.isWhitespace { scalars.removeLast() } }
                s = String(String.UnicodeScalarView(scalars))
            }
        }
        return s
    }

    /// Words ready for BPE (for byte-level BPE, already written in the byte alphabet).
    func preTokenize(_ text: String) -> [String] {
        switch preTokenization {
        case .byteLevel(let addPrefixSpace, let useRegex):
            var t = text
            if addPrefixSpace, let first = t.unicodeScalars.first, first != " " { t = " " + t }
            let words = useRegex ? GPT2PreTokenizer.split(t) : [t]
            return words.map { ByteLevelAlphabet.encode($0) }
        case .whitespace:
            return Self.splitWordsAndPunctuation(text)
        case .whitespaceSplit:
            return text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        case .none:
            return text.isEmpty ? [] : [text]
        }
    }

    /// `\w+|[^\w\s]+`.
    static func splitWordsAndPunctuation(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        var currentIsWord: Bool?
        func isWord(_ s: Unicode.Scalar) -> Bool {
            s == "_" || s.properties.isAlphabetic || s.properties.numericType != nil || s.properties.generalCategory == .nonspacingMark
        }
        for s in text.unicodeScalars {
            if s.properties.isWhitespace {
                if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
                currentIsWord = nil
                continue
            }
            let word = isWord(s)
            if let kind = currentIsWord, kind != word, !current.isEmpty {
                words.append(String(current))
                current = String.UnicodeScalarView()
            }
            current.append(s)
            currentIsWord = word
        }
        if !current.isEmpty { words.append(String(current)) }
        return words
    }

    /// BPE on one word: merge the adjacent pair with the lowest rank until none is left.
    func encodeWord(_ word: String) -> [Int] {
        if word.unicodeScalars.count == 1, let whole = vocabulary[word] { return [whole] }
        var parts = word.unicodeScalars.map { String($0) }
        while parts.count > 1 {
            var best: Int?
            for k in 0..<(parts.count - 1) {
                if let rank = mergeRanks[Pair(left: parts[k], right: parts[k + 1])], rank < (best ?? Int.max) {
                    best = rank
                }
            }
            guard let bestRank = best else { break }
            var merged: [String] = []
            merged.reserveCapacity(parts.count)
            var k = 0
            while k < parts.count {
                if k < parts.count - 1, mergeRanks[Pair(left: parts[k], right: parts[k + 1])] == bestRank {
                    merged.append(parts[k] + parts[k + 1])
                    k += 2
                } else {
                    merged.append(parts[k])
                    k += 1
                }
            }
            parts = merged
        }
        var ids: [Int] = []
        for part in parts {
            if let id = vocabulary[part] {
                ids.append(id)
            } else if let unknownID {
                ids.append(unknownID)
            }
        }
        return ids
    }
}
