/// The ordered ways to run a model on this machine: the first entry is the plan, the rest are the
/// fallbacks, and the last one is always CPU fp32 (or the most precise variant shipped).
public struct ExecutionPlan: Sendable, Equatable, Codable {
    public var model: String
    public var entries: [PlanEntry]
    /// Why the plan looks as it does as a whole (why CUDA or not, which CPU features matter).
    public var reasons: [String]

    public init(model: String, entries: [PlanEntry], reasons: [String]) {
        self.model = model
        self.entries = entries
        self.reasons = reasons
    }

    public var primary: PlanEntry? { entries.first }
}
