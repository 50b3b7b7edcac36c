import Foundation

/// Picks the next speech token from a step's logits as upstream Chatterbox does: a repetition
/// penalty, temperature, top-k, top-p and min-p, then a draw from the softmax of what is left.
///
/// Nothing here sorts the whole vocabulary (6,563 logits per step): top-k finds its threshold by
/// selection, min-p by a comparison with the best probability, and top-p takes tokens from a heap,
/// most likely first, only until the mass is reached. Only the tokens that survive are ordered.
public struct TokenSampler: Sendable, Equatable {
    /// Where the repetition penalty applies. Hugging Face's `generate` (the original Chatterbox)
    /// penalises the raw logits before the filters; Chatterbox Turbo's own loop filters first
    /// (temperature, top-k, top-p) and penalises what is left.
    public enum PenaltyOrder: String, Sendable, Equatable {
        case beforeFiltering
        case afterFiltering
    }

    /// Divides the logits; 0 or less means greedy (always the most likely token).
    public var temperature: Float
    /// Keeps the k most likely tokens; 0 keeps all.
    public var topK: Int
    /// Keeps the most likely tokens whose probabilities add up to at least this; 1 keeps all.
    public var topP: Float
    /// Keeps tokens at least this fraction as likely as the most likely one; 0 keeps all.
    public var minP: Float
    /// Logits of tokens already generated are divided by this (multiplied when negative); 1 is off.
    public var repetitionPenalty: Float
    public var penaltyOrder: PenaltyOrder

    public init(
        temperature: Float = 0.8, topK: Int = 1000, topP: Float = 0.95, minP: Float = 0, repetitionPenalty: Float = 1.2,
        penaltyOrder: PenaltyOrder = .beforeFiltering
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.penaltyOrder = penaltyOrder
    }

    /// Chatterbox Turbo's sampling (`ChatterboxTurboTTS.generate`): temperature 0.8, top-k 1000,
    /// top-p 0.95, then repetition penalty 1.2 on what the filters kept.
    public static let turbo = TokenSampler(
        temperature: 0.8, topK: 1000, topP: 0.95, minP: 0, repetitionPenalty: 1.2, penaltyOrder: .afterFiltering)
    /// The original Chatterbox's sampling (`ChatterboxTTS.generate`): repetition penalty 1.2,
    /// temperature 0.8, min-p 0.05, top-p 1.0, no top-k.
    public static let original = TokenSampler(
        temperature: 0.8, topK: 0, topP: 1, minP: 0.05, repetitionPenalty: 1.2, penaltyOrder: .beforeFiltering)

    /// `logits` after the repetition penalty for the tokens in `history`.
    public func penalized(_ logits: [Float], history: Set<Int>) -> [Float] {
        guard repetitionPenalty != 1 else { return logits }
        var out = logits
        for token in history where token >= 0 && token < out.count {
            out[token] = penalize(out[token])
        }
        return out
    }

    private func penalize(_ logit: Float) -> Float {
        logit < 0 ? logit * repetitionPenalty : logit / repetitionPenalty
    }

    /// The candidate tokens and their probabilities after temperature, top-k, top-p and min-p,
    /// most likely first (ties: the lower id first).
    public func distribution(_ logits: [Float]) -> [(token: Int, probability: Double)] {
        var candidates = logits.indices.filter { logits[$0].isFinite || logits[$0] == .infinity }
        guard !candidates.isEmpty else { return [] }
        if temperature <= 0 {
            let best = candidates.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!
            return [(best, 1)]
        }
        if topK > 0, candidates.count > topK {
            // Like Hugging Face, keep every token tied with the k-th.
            let kth = Self.kthLargest(candidates.map { logits[$0] }, k: topK)
            candidates.removeAll { logits[$0] < kth }
        }
        let best = candidates.reduce(-Float.infinity) { max($0, logits[$1]) }
        let invT = 1 / Double(temperature)
        func weight(_ token: Int) -> Double {
            let w = Foundation.exp((Double(logits[token]) - Double(best)) * invT)
            return w.isNaN ? 0 : w
        }
        var weights = candidates.map(weight)
        var total = weights.reduce(0, +)
        if minP > 0 {
            // p ≥ minP · p_max, where p_max's weight is 1.
            let keep = weights.indices.filter { weights[$0] >= Double(minP) }
            candidates = keep.map { candidates[$0] }
            weights = keep.map { weights[$0] }
            total = weights.reduce(0, +)
        }
        var ordered: [(token: Int, weight: Double)]
        if topP < 1 {
            // Take from a heap, most likely first, until the kept mass reaches topP.
            var heap = CandidateHeap(tokens: candidates, weights: weights)
            ordered = []
            var cumulative = 0.0
            while let next = heap.pop() {
                ordered.append(next)
                cumulative += next.weight / total
                if cumulative >= Double(topP) { break }
            }
        } else {
            ordered = zip(candidates, weights).map { ($0, $1) }
            ordered.sort { $0.weight > $1.weight || ($0.weight == $1.weight && $0.token < $1.token) }
        }
        let kept = ordered.reduce(0) { $0 + $1.weight }
        return ordered.map { ($0.token, $0.weight / kept) }
    }

    /// The next token. Greedy (temperature 0) takes the most likely token after the repetition
    /// penalty, as the model card's ONNX loop does, whatever the order.
    public func sample(_ logits: [Float], history: Set<Int>, using generator: inout SeededGenerator) -> Int {
        if temperature <= 0 { return distribution(penalized(logits, history: history)).first?.token ?? 0 }
        var candidates: [(token: Int, probability: Double)]
        switch penaltyOrder {
        case .beforeFiltering:
            candidates = distribution(penalized(logits, history: history))
        case .afterFiltering:
            candidates = distribution(logits)
            if repetitionPenalty != 1, candidates.count > 1, candidates.contains(where: { history.contains($0.token) }) {
                // Softmax again over the kept tokens with the penalised logits (the temperature
                // divides both sides alike, so penalising before or after scaling is the same).
                let scaled = candidates.map { c in
                    Double(history.contains(c.token) ? penalize(logits[c.token]) : logits[c.token]) / Double(temperature)
                }
                let top = scaled.max()!
                let weights = scaled.map { Foundation.exp($0 - top) }
                let total = weights.reduce(0, +)
                candidates = zip(candidates, weights).map { ($0.token, $1 / total) }
            }
        }
        guard candidates.count > 1 else { return candidates.first?.token ?? 0 }
        let u = generator.nextUnit()
        var cumulative = 0.0
        for (token, p) in candidates {
            cumulative += p
            if u < cumulative { return token }
        }
        return candidates[candidates.count - 1].token
    }

    /// The k-th largest of `values` (1-based), by selection: O(n), nothing sorted.
    static func kthLargest(_ values: [Float], k: Int) -> Float {
        var a = values
        var low = 0, high = a.count - 1
        let target = k - 1
        while low < high {
            let pivot = a[(low + high) / 2]
            var i = low, j = high
            while i <= j {
                while a[i] > pivot { i += 1 }
                while a[j] < pivot { j -= 1 }
                if i <= j {
                    a.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if target <= j {
                high = j
            } else if target >= i {
                low = i
            } else {
                return a[target]
            }
        }
        return a[target]
    }
}

/// A binary max-heap of candidate tokens by weight (ties: the lower id first).
private struct CandidateHeap {
    private var items: [(token: Int, weight: Double)]

    init(tokens: [Int], weights: [Double]) {
        items = zip(tokens, weights).map { ($0, $1) }
        for i in stride(from: items.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
    }

    private func above(_ a: Int, _ b: Int) -> Bool {
        items[a].weight > items[b].weight || (items[a].weight == items[b].weight && items[a].token < items[b].token)
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var top = i
            if l < items.count, above(l, top) { top = l }
            if r < items.count, above(r, top) { top = r }
            if top == i { return }
            items.swapAt(i, top)
            i = top
        }
    }

    mutating func pop() -> (token: Int, weight: Double)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        if !items.isEmpty { siftDown(0) }
        return top
    }
}
