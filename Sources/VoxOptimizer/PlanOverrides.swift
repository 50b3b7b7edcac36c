/// What the user forced (CLI flags, configuration). Every field defaults to "let the planner decide".
public struct PlanOverrides: Sendable, Equatable, Codable {
    /// Run only on this provider (the final CPU fp32 safety entry stays). Forcing CUDA where it
    /// cannot work is an error, not a silent CPU plan.
    public var provider: ExecutionProvider?
    /// Use this precision wherever a component ships it.
    public var precision: ModelPrecision?
    public var intraOpThreads: Int?
    public var interOpThreads: Int?
    /// Turn graph optimization, the optimized-model cache and CUDA graphs off (for debugging a model
    /// that an optimization breaks).
    public var disableOptimizations: Bool
    /// Use this GPU (NVML index) instead of the best one.
    public var deviceIndex: Int?

    public init(
        provider: ExecutionProvider? = nil, precision: ModelPrecision? = nil, intraOpThreads: Int? = nil, interOpThreads: Int? = nil,
        disableOptimizations: Bool = false, deviceIndex: Int? = nil
    ) {
        self.provider = provider
        self.precision = precision
        self.intraOpThreads = intraOpThreads
        self.interOpThreads = interOpThreads
        self.disableOptimizations = disableOptimizations
        self.deviceIndex = deviceIndex
    }
}
