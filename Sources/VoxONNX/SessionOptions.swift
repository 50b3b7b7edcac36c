/// How an ONNX Runtime session is created. Every field has a default.
public struct SessionOptions: Sendable, Equatable, Codable {
    public enum GraphOptimizationLevel: String, Sendable, Equatable, Codable {
        case disabled, basic, extended, all
    }

    public enum Provider: Sendable, Equatable, Codable {
        case cpu
        /// NVIDIA CUDA; `cudaGraph` only for models whose shapes never change.
        case cuda(deviceID: Int, cudaGraph: Bool)
    }

    /// Threads used inside one operator; 0 lets ONNX Runtime choose.
    public var intraOpThreads: Int
    /// Threads used across independent operators; 0 lets ONNX Runtime choose.
    public var interOpThreads: Int
    public var graphOptimizationLevel: GraphOptimizationLevel
    /// When set, ONNX Runtime writes the optimized graph here (loading it later skips optimization).
    public var optimizedModelPath: String?
    public var provider: Provider
    /// Extra `AddSessionConfigEntry` pairs.
    public var configEntries: [String: String]

    public init(
        intraOpThreads: Int = 0, interOpThreads: Int = 1, graphOptimizationLevel: GraphOptimizationLevel = .all,
        optimizedModelPath: String? = nil, provider: Provider = .cpu, configEntries: [String: String] = [:]
    ) {
        self.intraOpThreads = intraOpThreads
        self.interOpThreads = interOpThreads
        self.graphOptimizationLevel = graphOptimizationLevel
        self.optimizedModelPath = optimizedModelPath
        self.provider = provider
        self.configEntries = configEntries
    }
}
