/// Mono float32 audio in [-1, 1] at a given sample rate.
public struct AudioBuffer: Sendable, Equatable {
    public var samples: [Float]
    public var sampleRate: Int

    public init(samples: [Float], sampleRate: Int) {
        self.samples = samples
        self.sampleRate = sampleRate
    }

    public var duration: Double { sampleRate > 0 ? Double(samples.count) / Double(sampleRate) : 0 }
    public var isEmpty: Bool { samples.isEmpty }

    /// Largest absolute sample value.
    public var peak: Float { samples.reduce(0) { max($0, abs($1)) } }

    /// Root mean square level.
    public var rms: Float {
        guard !samples.isEmpty else { return 0 }
        var sum: Double = 0
        for s in samples { sum += Double(s) * Double(s) }
        return Float((sum / Double(samples.count)).squareRoot())
    }

    /// True when every sample is finite (no NaN or infinity).
    public var isFinite: Bool { samples.allSatisfy(\.isFinite) }

    /// True when the buffer is empty or never rises above `threshold`.
    public func isSilent(threshold: Float = 1e-4) -> Bool { peak <= threshold }

    /// `seconds` of silence at `sampleRate`.
    public static func silence(seconds: Double, sampleRate: Int) -> AudioBuffer {
        AudioBuffer(samples: [Float](repeating: 0, count: Int((seconds * Double(sampleRate)).rounded())), sampleRate: sampleRate)
    }

    /// Appends another buffer of the same rate; an empty buffer takes the rate of what it is given.
    public mutating func append(_ other: AudioBuffer) {
        guard !other.samples.isEmpty else { return }
        if samples.isEmpty { sampleRate = other.sampleRate }
        precondition(other.sampleRate == sampleRate, "sample rates differ: \(sampleRate) Hz and \(other.sampleRate) Hz")
        samples.append(contentsOf: other.samples)
    }
}
