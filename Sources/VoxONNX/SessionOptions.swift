/// Where ONNX Runtime runs a graph.
public enum ExecutionProvider: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case cpu
    case cuda

    /// The name ONNX Runtime's `GetAvailableProviders` uses.
    public var onnxRuntimeName: String {
        switch self {
        case .cpu: "CPUExecutionProvider"
        case .cuda: "CUDAExecutionProvider"
        }
    }

    public var description: String { rawValue }
}

/// ONNX Runtime's graph optimization levels (`GraphOptimizationLevel` in the C API).
public enum GraphOptimizationLevel: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case disabled
    case basic
    case extended
    case all

    public var description: String { rawValue }
}

/// cuDNN's convolution algorithm search (the CUDA provider's `cudnn_conv_algo_search`).
public enum CUDNNConvAlgoSearch: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Benchmarks every algorithm for each new shape: best for fixed shapes, slow when shapes change.
    case exhaustive = "EXHAUSTIVE"
    /// cuDNN's heuristics pick one without running them: right when shapes change per request.
    case heuristic = "HEURISTIC"
    /// The default algorithm, no search.
    case `default` = "DEFAULT"

    public var description: String { rawValue }
}

/// How an ONNX Runtime session is created. Every field has a default.
public struct SessionOptions: Sendable, Equatable, Codable {
    /// Threads used inside one operator; 0 lets ONNX Runtime choose.
    public var intraOpThreads: Int
    /// Threads used across independent operators; 0 lets ONNX Runtime choose.
    public var interOpThreads: Int
    public var graphOptimizationLevel: GraphOptimizationLevel
    /// When set, ONNX Runtime writes the optimized graph here (loading it later skips optimization).
    public var optimizedModelPath: String?
    public var provider: ExecutionProvider
    /// The CUDA device (with `provider == .cuda`).
    public var deviceID: Int
    /// Capture the graph once and replay it (`enable_cuda_graph`); only for graphs whose shapes never change.
    public var cudaGraph: Bool
    public var cudnnConvAlgoSearch: CUDNNConvAlgoSearch
    /// Extra `AddSessionConfigEntry` pairs.
    public var configEntries: [String: String]

    public init(
        intraOpThreads: Int = 0, interOpThreads: Int = 1, graphOptimizationLevel: GraphOptimizationLevel = .all,
        optimizedModelPath: String? = nil, provider: ExecutionProvider = .cpu, deviceID: Int = 0, cudaGraph: Bool = false,
        cudnnConvAlgoSearch: CUDNNConvAlgoSearch = .heuristic, configEntries: [String: String] = [:]
    ) {
        self.intraOpThreads = intraOpThreads
        self.interOpThreads = interOpThreads
        self.graphOptimizationLevel = graphOptimizationLevel
        self.optimizedModelPath = optimizedModelPath
        self.provider = provider
        self.deviceID = deviceID
        self.cudaGraph = cudaGraph
        self.cudnnConvAlgoSearch = cudnnConvAlgoSearch
        self.configEntries = configEntries
    }
}
