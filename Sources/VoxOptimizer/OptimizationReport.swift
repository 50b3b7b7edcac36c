/// What the optimizer decided and what happened since: for `voxserve doctor`, `/metrics` and logs.
public struct OptimizationReport: Sendable, Equatable, Codable {
    public var plan: ExecutionPlan
    /// Index of the entry requests run on; nil once every entry has failed.
    public var activeEntryIndex: Int?
    /// True when the active engine has been built.
    public var engineLoaded: Bool
    public var fallbacks: [FallbackEvent]
    /// Seconds the warm-up took (building engines and the first synthesis, fallbacks included);
    /// nil before `prepare()` has finished.
    public var warmUpSeconds: Double?

    public init(plan: ExecutionPlan, activeEntryIndex: Int?, engineLoaded: Bool, fallbacks: [FallbackEvent], warmUpSeconds: Double?) {
        self.plan = plan
        self.activeEntryIndex = activeEntryIndex
        self.engineLoaded = engineLoaded
        self.fallbacks = fallbacks
        self.warmUpSeconds = warmUpSeconds
    }

    public var activeEntry: PlanEntry? { activeEntryIndex.map { plan.entries[$0] } }

    /// True when every plan entry has failed.
    public var exhausted: Bool { activeEntryIndex == nil }
}
