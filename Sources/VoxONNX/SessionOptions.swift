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

/// How the CUDA provider's memory arena grows (`arena_extend_strategy`).
public enum ArenaExtendStrategy: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// ONNX Runtime's default: double the arena each time it is short, which overshoots a limit.
    case nextPowerOfTwo = "kNextPowerOfTwo"
    /// Grow by what was asked for: slower to grow, never far past what is used.
    case sameAsRequested = "kSameAsRequested"

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
    /// CUDA: the most memory the session's arena may hold (`gpu_mem_limit`); nil: no limit.
    public var gpuMemoryLimitBytes: UInt64?
    /// CUDA: how the arena grows.
    public var arenaExtendStrategy: ArenaExtendStrategy
    /// Log the session's creation at VERBOSE into a collector and keep where ONNX Runtime placed
    /// its nodes (`ONNXSession.placement`): which provider runs how many nodes, and the Memcpy
    /// nodes it added between them. Costs some logging at load; the plan turns it on for CUDA.
    public var recordPlacement: Bool

    public init(
        intraOpThreads: Int = 0, interOpThreads: Int = 1, graphOptimizationLevel: GraphOptimizationLevel = .all,
        optimizedModelPath: String? = nil, provider: ExecutionProvider = .cpu, deviceID: Int = 0, cudaGraph: Bool = false,
        cudnnConvAlgoSearch: CUDNNConvAlgoSearch = .heuristic, configEntries: [String: String] = [:], gpuMemoryLimitBytes: UInt64? = nil,
        arenaExtendStrategy: ArenaExtendStrategy = .sameAsRequested, recordPlacement: Bool = false
    ) {
        self.gpuMemoryLimitBytes = gpuMemoryLimitBytes
        self.arenaExtendStrategy = arenaExtendStrategy
        self.recordPlacement = recordPlacement
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

extension SessionOptions {
    /// The key/value pairs given to the CUDA provider (`UpdateCUDAProviderOptions`), in order.
    public var cudaProviderOptions: [(key: String, value: String)] {
        var pairs: [(key: String, value: String)] = [
            ("device_id", String(deviceID)),
            ("cudnn_conv_algo_search", cudnnConvAlgoSearch.rawValue),
            ("do_copy_in_default_stream", "1"),
            ("enable_cuda_graph", cudaGraph ? "1" : "0"),
            ("arena_extend_strategy", arenaExtendStrategy.rawValue),
        ]
        if let limit = gpuMemoryLimitBytes { pairs.append(("gpu_mem_limit", String(limit))) }
        return pairs
    }
}
