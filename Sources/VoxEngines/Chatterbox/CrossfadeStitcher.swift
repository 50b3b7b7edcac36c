/// Joins audio decoded in overlapping windows into one continuous stream. Each window covers a
/// stretch of the utterance's timeline (`start` is its first sample there); the stitcher hands out
/// each window's audio up to half a crossfade before the window's boundary, keeps the crossfade's
/// worth after it, and blends that with the next window (equal-gain linear crossfade). When the
/// windows agree where they overlap, the joined stream equals a single decode of the whole.
struct CrossfadeStitcher: Sendable {
    /// Crossfade length in samples.
    let crossfade: Int
    /// Samples of the timeline handed out so far.
    private(set) var emitted = 0
    private var tail: [Float] = []

    init(crossfade: Int) {
        self.crossfade = max(0, crossfade)
    }

    /// Adds a window holding `audio` from timeline sample `start`. `boundary` is where the next
    /// window takes over (nil for the last window: everything up to its end is handed out).
    /// Returns the samples that are final now, continuing the stream.
    mutating func add(_ audio: [Float], start: Int, boundary: Int?) -> [Float] {
        var out: [Float] = []
        func sample(at t: Int) -> Float? {
            let i = t - start
            return i >= 0 && i < audio.count ? audio[i] : nil
        }
        if !tail.isEmpty {
            for (k, previous) in tail.enumerated() {
                let w = Float(k + 1) / Float(tail.count + 1)
                if let next = sample(at: emitted + k) {
                    out.append(previous * (1 - w) + next * w)
                } else {
                    out.append(previous)
                }
            }
            emitted += tail.count
            tail = []
        }
        let end = boundary.map { max(emitted, $0 - crossfade / 2) } ?? (start + audio.count)
        if end > emitted {
            let from = max(emitted, start)
            if from > emitted { out += [Float](repeating: 0, count: from - emitted) }
            if end > from {
                let lo = from - start
                let hi = min(end - start, audio.count)
                if hi > lo { out += audio[lo..<hi] }
                if end - start > hi { out += [Float](repeating: 0, count: end - start - max(hi, lo)) }
            }
            emitted = end
        }
        if boundary != nil {
            let lo = emitted - start
            let hi = min(audio.count, lo + crossfade)
            if lo >= 0, hi > lo { tail = Array(audio[lo..<hi]) }
        }
        return out
    }
}
