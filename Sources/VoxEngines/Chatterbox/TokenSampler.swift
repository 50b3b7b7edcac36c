import Foundation

/// Picks the next speech token from a step's logits the way Hugging Face's `generate` does for
/// Chatterbox: repetition penalty, then temperature, top-k and top-p, then a draw from the softmax.
public struct TokenSampler: Sendable, Equatable {
    /// Divides the logits; 0 or less means greedy (always the most likely token).
    public var temperature: Float
    /// Keeps the k most likely tokens; 0 keeps all.
    public var topK: Int
    /// Keeps the most likely tokens whose probabilities add up to at least this; 1 keeps all.
    public var topP: Float
    /// Logits of tokens already generated are divided by this (multiplied when negative); 1 is off.
    public var repetitionPenalty: Float

    public init(temperature: Float = 0.8, topK: Int = 1000, topP: Float = 0.95, repetitionPenalty: Float = 1.2) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
    }

    /// `logits` after the repetition penalty for the tokens in `history`.
    public func penalized(_ logits: [Float], history: Set<Int>) -> [Float] {
        guard repetitionPenalty != 1 else { return logits }
        var out = logits
        for token in history where token >= 0 && token < out.count {
            out[token] = out[token] < 0 ? out[token] * repetitionPenalty : out[token] / repetitionPenalty
        }
        return out
    }

    /// The candidate tokens and their probabilities after temperature, top-k and top-p, most likely first.
    public func distribution(_ logits: [Float]) -> [(token: Int, probability: Double)] {
        var order = logits.indices.filter { logits[$0].isFinite || logits[$0] == .infinity }
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        guard let best = order.first else { return [] }
        if temperature <= 0 { return [(best, 1)] }
        if topK > 0, order.count > topK {
            // Like Hugging Face, keep every token tied with the k-th.
            let kth = logits[order[topK - 1]]
            var end = topK
            while end < order.count, logits[order[end]] >= kth { end += 1 }
            order.removeSubrange(end...)
        }
        let scaled = order.map { Double(logits[$0]) / Double(temperature) }
        let maxValue = scaled[0]
        var weights = scaled.map { ($0 - maxValue).isNaN ? 0 : Foundation.exp($0 - maxValue) }
        var total = weights.reduce(0, +)
        if topP < 1 {
            var cumulative = 0.0
            var keep = 0
            for w in weights {
                keep += 1
                cumulative += w / total
                if cumulative >= Double(topP) { break }
            }
            weights.removeSubrange(keep...)
            order.removeSubrange(keep...)
            total = weights.reduce(0, +)
        }
        return zip(order, weights).map { ($0, $1 / total) }
    }

    /// The next token.
    public func sample(_ logits: [Float], history: Set<Int>, using generator: inout SeededGenerator) -> Int {
        let candidates = distribution(penalized(logits, history: history))
        guard candidates.count > 1 else { return candidates.first?.token ?? 0 }
        let u = generator.nextUnit()
        var cumulative = 0.0
        for (token, p) in candidates {
            cumulative += p
            if u < cumulative { return token }
        }
        return candidates[candidates.count - 1].token
    }
}
