/// Summary of repeated wall-clock measurements, in seconds.
public struct CacheBenchmarkTimings: Sendable, Equatable, Codable {
    public var samples: [Double]
    public var min: Double
    public var median: Double
    public var mean: Double
    public var max: Double

    public init(samples: [Double]) {
        let sorted = samples.sorted()
        self.samples = samples
        self.min = sorted.first ?? 0
        self.max = sorted.last ?? 0
        self.mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
        if sorted.isEmpty {
            self.median = 0
        } else if sorted.count % 2 == 1 {
            self.median = sorted[sorted.count / 2]
        } else {
            self.median = (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
    }
}
