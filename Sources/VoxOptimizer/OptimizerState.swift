import Logging
import VoxCore

/// The mutable half of `OptimizedSynthesizer`: which plan entry is active, its engine, and the
/// fallbacks so far. Synthesis itself runs outside the actor, so requests proceed in parallel;
/// only choosing, building and retiring engines goes through here.
actor OptimizerState {
    let plan: ExecutionPlan
    private let factory: OptimizedSynthesizer.EngineFactory
    private let info: Locked<SynthesizerInfo>
    private let logger: Logger

    /// The entry requests run on; `plan.entries.count` once all have failed.
    private var activeIndex = 0
    private var engine: (index: Int, synthesizer: any SpeechSynthesizer)?
    /// An engine being built, shared by the requests that arrive meanwhile so it is built once.
    private var loading: (index: Int, task: Task<any SpeechSynthesizer, any Error>)?
    private var events: [FallbackEvent] = []
    private var warmUpSeconds: Double?

    init(plan: ExecutionPlan, factory: @escaping OptimizedSynthesizer.EngineFactory, info: Locked<SynthesizerInfo>, logger: Logger) {
        self.plan = plan
        self.factory = factory
        self.info = info
        self.logger = logger
    }

    /// The engine of the active entry, built on first use. An entry whose engine cannot be built is
    /// recorded and skipped. Throws when no entry is left.
    func activeEngine() async throws -> (index: Int, synthesizer: any SpeechSynthesizer) {
        while activeIndex < plan.entries.count {
            let index = activeIndex
            if let engine, engine.index == index { return engine }
            let task: Task<any SpeechSynthesizer, any Error>
            if let loading, loading.index == index {
                task = loading.task
            } else {
                let entry = plan.entries[index]
                let factory = self.factory
                task = Task { try await factory(entry) }
                loading = (index, task)
            }
            do {
                let synthesizer = try await task.value
                if loading?.index == index { loading = nil }
                // Another request may have retired this entry while it was being built.
                guard activeIndex == index else { continue }
                engine = (index, synthesizer)
                info.set(synthesizer.info)
                logger.info("engine ready", metadata: ["vox.plan.entry": "\(index)", "vox.plan.label": "\(plan.entries[index].label)"])
                return (index, synthesizer)
            } catch {
                if loading?.index == index { loading = nil }
                recordFailure(entryIndex: index, stage: .load, reason: FallbackPolicy.describe(error))
            }
        }
        throw exhaustedError()
    }

    /// Retires entry `entryIndex` (when it is still the active one: several requests may see the
    /// same failure) and moves to the next.
    func recordFailure(entryIndex: Int, stage: FallbackStage, reason: String) {
        guard entryIndex == activeIndex, entryIndex < plan.entries.count else { return }
        let label = plan.entries[entryIndex].label
        events.append(FallbackEvent(entryIndex: entryIndex, entryLabel: label, stage: stage, reason: reason))
        activeIndex += 1
        engine = nil
        let next = activeIndex < plan.entries.count ? plan.entries[activeIndex].label : "none left"
        logger.warning(
            "plan entry failed, falling back",
            metadata: ["vox.plan.entry": "\(entryIndex)", "vox.plan.label": "\(label)", "vox.plan.stage": "\(stage.rawValue)",
                       "vox.plan.reason": "\(reason)", "vox.plan.next": "\(next)"]
        )
    }

    func setWarmUp(seconds: Double) {
        warmUpSeconds = seconds
    }

    func report() -> OptimizationReport {
        OptimizationReport(
            plan: plan, activeEntryIndex: activeIndex < plan.entries.count ? activeIndex : nil,
            engineLoaded: engine != nil, fallbacks: events, warmUpSeconds: warmUpSeconds
        )
    }

    private func exhaustedError() -> VoxError {
        let detail = events.map { "#\($0.entryIndex) \($0.entryLabel) (\($0.stage.rawValue)): \($0.reason)" }.joined(separator: "; ")
        guard let last = events.last else {
            return VoxError.engineFailure("The execution plan for \(plan.model) has no entries: nothing can run it.")
        }
        return VoxError.engineFailure(
            "Every way to run \(plan.model) failed (\(plan.entries.count) plan entries); the last, \(last.entryLabel), failed because \(last.reason). Run `voxserve doctor` to check the model files and the hardware.",
            detail: detail
        )
    }
}
