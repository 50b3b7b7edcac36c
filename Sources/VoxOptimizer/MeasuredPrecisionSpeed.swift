import Foundation
import VoxONNX

/// How fast each precision of a model spoke, measured by `voxserve bench chatterbox` on this
/// machine's CPU: the real-time factor of a streamed 10 s sentence (seconds of work per second of
/// speech: prefill, every token and every decoder call, what a listener waits for). The CPU plan
/// orders precisions by it (fastest first) instead of by the CPU's features alone, as long as the
/// CPU is the one it was measured on.
public struct MeasuredPrecisionSpeed: Codable, Sendable, Equatable {
    /// The CPU's model name when measured (`HardwareReport.cpu.modelName`).
    public var cpu: String
    /// Real-time factor by precision (`ModelPrecision.rawValue`); lower is faster.
    public var realTimeFactor: [String: Double]
    public var measuredAt: String
    /// The command that measured it, for the plan's reasons.
    public var command: String

    public init(cpu: String, realTimeFactor: [String: Double], measuredAt: String, command: String) {
        self.cpu = cpu
        self.realTimeFactor = realTimeFactor
        self.measuredAt = measuredAt
        self.command = command
    }

    /// Where the Chatterbox measurement is kept.
    public static func url(cacheDirectory: URL) -> URL {
        cacheDirectory.appendingPathComponent("bench/chatterbox-cpu-precision.json")
    }

    /// The measurement for `cpu`, when one was saved on this CPU model.
    public static func load(cacheDirectory: URL, cpu: String) -> MeasuredPrecisionSpeed? {
        guard let data = try? Data(contentsOf: url(cacheDirectory: cacheDirectory)),
              let measured = try? JSONDecoder().decode(MeasuredPrecisionSpeed.self, from: data), measured.cpu == cpu
        else { return nil }
        return measured
    }

    public func save(cacheDirectory: URL) throws {
        let url = Self.url(cacheDirectory: cacheDirectory)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url, options: .atomic)
    }

    /// The measured precisions, fastest first.
    public var order: [ModelPrecision] {
        var pairs: [(precision: ModelPrecision, ms: Double)] = []
        for (key, ms) in realTimeFactor where ms.isFinite && ms > 0 {
            if let precision = ModelPrecision(rawValue: key) { pairs.append((precision, ms)) }
        }
        pairs.sort { a, b in a.ms < b.ms || (a.ms == b.ms && a.precision.rawValue < b.precision.rawValue) }
        return pairs.map(\.precision)
    }

    var summary: String {
        order.map { String(format: "%@ RTF %.2f", $0.rawValue, realTimeFactor[$0.rawValue]!) }.joined(separator: ", ")
    }
}
