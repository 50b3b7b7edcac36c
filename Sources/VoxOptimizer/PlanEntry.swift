/// One way to run a model: a provider, a precision per component and the session settings that go
/// with them. An `ExecutionPlan` lists several, best first; the engine factory builds an engine
/// from one entry.
public struct PlanEntry: Sendable, Equatable, Codable {
    public var provider: ExecutionProvider
    /// The CUDA device id; nil on CPU.
    public var deviceIndex: Int?
    public var components: [ComponentPlan]
    /// ONNX Runtime intra-op threads (the threads that split one operator's work).
    public var intraOpThreads: Int
    /// ONNX Runtime inter-op threads; 1 means sequential execution.
    public var interOpThreads: Int
    public var graphOptimization: GraphOptimizationLevel
    /// When set, the engine saves the optimized graph under a name made of this key, the component
    /// and its precision (`SessionOptions.optimized_model_filepath`), and loads it next time instead
    /// of optimizing again. Nil: neither load nor save.
    public var optimizedModelCacheKey: String?
    /// cuDNN convolution algorithm search ("HEURISTIC"); nil on CPU.
    public var cudnnConvAlgoSearch: String?
    /// Bind inputs and outputs to device memory (ORT IO binding), so tensors passed between steps
    /// stay on the GPU.
    public var ioBinding: Bool
    public var chunking: ChunkingPolicy
    /// Why each setting was chosen, in words.
    public var reasons: [String]

    public init(
        provider: ExecutionProvider, deviceIndex: Int? = nil, components: [ComponentPlan], intraOpThreads: Int, interOpThreads: Int = 1,
        graphOptimization: GraphOptimizationLevel = .all, optimizedModelCacheKey: String? = nil, cudnnConvAlgoSearch: String? = nil,
        ioBinding: Bool = false, chunking: ChunkingPolicy = ChunkingPolicy(), reasons: [String] = []
    ) {
        self.provider = provider
        self.deviceIndex = deviceIndex
        self.components = components
        self.intraOpThreads = intraOpThreads
        self.interOpThreads = interOpThreads
        self.graphOptimization = graphOptimization
        self.optimizedModelCacheKey = optimizedModelCacheKey
        self.cudnnConvAlgoSearch = cudnnConvAlgoSearch
        self.ioBinding = ioBinding
        self.chunking = chunking
        self.reasons = reasons
    }

    public func precision(for component: String) -> ModelPrecision? {
        components.first { $0.name == component }?.precision
    }

    public func usesCUDAGraph(for component: String) -> Bool {
        components.first { $0.name == component }?.cudaGraph ?? false
    }

    /// True when every component runs in fp32.
    public var isFullPrecision: Bool { components.allSatisfy { $0.precision == .fp32 } }

    /// A short name for logs and reports: "cuda:0 fp16", "cpu int8", "cpu language_model=q4 conditional_decoder=fp32".
    public var label: String {
        let device = provider == .cuda ? "cuda:\(deviceIndex ?? 0)" : "cpu"
        let precisions = Set(components.map(\.precision))
        if precisions.count == 1, let only = precisions.first { return "\(device) \(only)" }
        return ([device] + components.map { "\($0.name)=\($0.precision)" }).joined(separator: " ")
    }
}
