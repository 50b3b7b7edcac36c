import Crypto
import Foundation
import VoxCore

/// Turns (hardware, model files present, user overrides) into an `ExecutionPlan`: a pure function,
/// so every decision can be tested on fake machines and explained in the plan's `reasons`.
///
/// The shape of every plan:
/// 1. CUDA entries, best precision first, when a GPU, the CUDA provider and a compatible ONNX
///    Runtime build are all there (and the user did not force CPU);
/// 2. CPU entries, fastest acceptable precision first (unless the user forced CUDA);
/// 3. always last: CPU fp32 (or the most precise variant a component ships), the entry that works
///    wherever ONNX Runtime works and whose output is the reference the others approximate.
/// Entries that would be identical are listed once.
public struct ExecutionPlanner: Sendable {
    /// What the loaded ONNX Runtime GPU build can run on.
    public var gpuBuild: ONNXRuntimeGPUBuild

    /// Weights are multiplied by this to estimate a session's memory: activations, the language
    /// model's KV cache, ORT's arena and cuDNN workspaces come on top of the weights.
    static let memoryOverheadFactor = 1.5
    /// Above this many intra-op threads, batch-1 TTS graphs gain nothing: each operator's work is too
    /// small to split further and decoding is bound by memory bandwidth, not arithmetic.
    static let maxIntraOpThreads = 16

    public init(gpuBuild: ONNXRuntimeGPUBuild = .cuda13) {
        self.gpuBuild = gpuBuild
    }

    public func plan(hardware: HardwareReport, inventory: ModelInventory, overrides: PlanOverrides = PlanOverrides()) throws -> ExecutionPlan {
        try validate(inventory: inventory, overrides: overrides)
        var planReasons: [String] = []

        let gpu = try chooseGPU(hardware: hardware, overrides: overrides)
        planReasons.append(gpu.reason)

        var entries: [PlanEntry] = []
        if let device = gpu.device {
            let (order, orderReason) = overrides.precision.map { ([$0], "precision \($0) forced by the user") }
                ?? Self.gpuPrecisionOrder(device.computeCapability)
            planReasons.append("CUDA precision order \(order.map(\.rawValue).joined(separator: " → ")): \(orderReason).")
            let budget = device.memoryFreeBytes
            for tier in order {
                let entry = makeEntry(provider: .cuda, device: device, tier: tier, order: order, hardware: hardware, inventory: inventory, overrides: overrides)
                if let required = Self.estimatedBytes(entry, inventory), required > budget {
                    planReasons.append("CUDA \(tier) skipped: about \(Self.gib(required)) needed, \(Self.gib(budget)) free on \(device.name).")
                    continue
                }
                entries.append(entry)
            }
            if entries.isEmpty && overrides.precision == nil {
                // Nothing fits at full or half precision: 4-bit weights are the way to stay on the GPU.
                for tier in Self.gpuMemorySavingOrder(device.computeCapability) {
                    let entry = makeEntry(provider: .cuda, device: device, tier: tier, order: [tier], hardware: hardware, inventory: inventory, overrides: overrides)
                    guard entry.components.contains(where: { $0.precision == tier }) else { continue }
                    if let required = Self.estimatedBytes(entry, inventory), required > budget { continue }
                    planReasons.append("CUDA \(tier): the only variant that fits in \(Self.gib(budget)) of free GPU memory.")
                    entries.append(entry)
                    break
                }
            }
        }

        if overrides.provider != .cuda {
            let (order, orderReason) = overrides.precision.map { ([$0], "precision \($0) forced by the user") }
                ?? Self.cpuPrecisionOrder(hardware.cpu.features)
            planReasons.append("CPU precision order \(order.map(\.rawValue).joined(separator: " → ")): \(orderReason).")
            let budget = hardware.memory.usableBytes
            for tier in order {
                let entry = makeEntry(provider: .cpu, device: nil, tier: tier, order: order, hardware: hardware, inventory: inventory, overrides: overrides)
                if budget > 0, let required = Self.estimatedBytes(entry, inventory), required > budget {
                    planReasons.append("CPU \(tier) skipped: about \(Self.gib(required)) needed, \(Self.gib(budget)) of RAM usable.")
                    continue
                }
                entries.append(entry)
            }
        }

        // The safety net: CPU at full precision. Kept even when it may not fit, because it is the
        // one entry whose failure says the model itself (not an optimization) is at fault.
        var safety = makeEntry(provider: .cpu, device: nil, tier: .fp32, order: [.fp32], hardware: hardware, inventory: inventory, overrides: overrides)
        safety.reasons.insert("Last resort: CPU with the most precise variant shipped, which runs wherever ONNX Runtime runs.", at: 0)
        entries.removeAll { Self.sameExecution($0, safety) }
        entries.append(safety)
        entries = Self.removingDuplicates(entries)

        return ExecutionPlan(model: inventory.model, entries: entries, reasons: planReasons)
    }

    // MARK: - Entries

    private func makeEntry(
        provider: ExecutionProvider, device: GPUDevice?, tier: ModelPrecision, order: [ModelPrecision], hardware: HardwareReport,
        inventory: ModelInventory, overrides: PlanOverrides
    ) -> PlanEntry {
        var reasons: [String] = []
        let optimize = !overrides.disableOptimizations

        var components: [ComponentPlan] = []
        for component in inventory.components {
            let precision = Self.resolve(component, tier: tier, order: order, provider: provider)
            if precision != tier {
                reasons.append("\(component.name) ships no \(tier) variant: \(precision) instead.")
            }
            // CUDA graphs replay a captured launch sequence: they need the same shapes (and buffer
            // addresses, hence IO binding) on every run, so only graphs declared static qualify.
            // Piper/VITS never does: its output length follows the phonemes and predicted durations.
            let graph = provider == .cuda && optimize && component.hasStaticShapes
            if provider == .cuda {
                reasons.append(graph
                    ? "\(component.name): CUDA graph capture (static shapes): one replay instead of a launch per kernel."
                    : component.hasStaticShapes
                        ? "\(component.name): no CUDA graph (optimizations disabled by the user)."
                        : "\(component.name): no CUDA graph (dynamic shapes cannot be captured).")
            }
            components.append(ComponentPlan(name: component.name, precision: precision, cudaGraph: graph))
        }
        let precisions = Set(components.map(\.precision))
        reasons.insert("\(provider == .cuda ? "CUDA on \(device?.name ?? "GPU")" : "CPU") with \(precisions.map(\.rawValue).sorted().joined(separator: "/")) weights.", at: 0)

        let threads = provider == .cuda ? Self.cudaHostThreads(hardware.cpu) : Self.cpuIntraOpThreads(hardware.cpu)
        let intraOp = overrides.intraOpThreads ?? threads.count
        reasons.append(overrides.intraOpThreads != nil ? "\(intraOp) intra-op threads, set by the user." : threads.reason)
        let interOp = overrides.interOpThreads ?? 1
        reasons.append(overrides.interOpThreads != nil
            ? "\(interOp) inter-op threads, set by the user."
            : "1 inter-op thread (sequential execution): these graphs are chains of dependent operators, so a parallel executor only adds scheduling cost.")

        let level: GraphOptimizationLevel = optimize ? .all : .disabled
        reasons.append(optimize
            ? "Graph optimization: all (constant folding, fusions of attention, GELU and layer norm, and on CPU the NCHWc layouts)."
            : "Graph optimization disabled by the user.")

        // A graph optimized at level "all" holds hardware-specific layouts: reuse it only on the same
        // CPU, features and ONNX Runtime providers, which is what the key binds it to. CUDA sessions
        // optimize at load instead: a graph saved from one holds CUDA-only fused nodes for one device,
        // and optimizing takes little beside CUDA and cuDNN start-up.
        var cacheKey: String?
        if provider == .cpu && optimize {
            cacheKey = Self.optimizedModelCacheKey(hardware: hardware, components: components, level: level)
            reasons.append("Optimized graphs saved and reused (key \(cacheKey!.prefix(12))…): later starts skip optimization.")
        } else if provider == .cuda {
            reasons.append("No optimized-model file on CUDA: a model saved from a CUDA session holds device-specific fused nodes, and optimizing at load is short beside CUDA start-up.")
        }

        var cudnn: String?
        var ioBinding = false
        var chunking = ChunkingPolicy(splitSentences: true, maxSentenceCharacters: 300, firstChunkTokens: 25, chunkTokens: 50)
        if provider == .cuda {
            cudnn = "HEURISTIC"
            reasons.append("cuDNN convolution algorithms chosen by heuristic: the default exhaustive search benchmarks every new input shape, and TTS shapes change with every sentence.")
            ioBinding = true
            reasons.append("IO binding: KV caches and intermediate tensors stay in GPU memory between steps instead of crossing to the host.")
            reasons.append("Chunks: sentences streamed one by one; token engines decode 25 speech tokens (1 s) for the first audio, then 50 per chunk.")
        } else {
            // On CPU every decoder call costs more, so later chunks are longer; the first stays short
            // because time to first audio is what a listener notices.
            chunking.chunkTokens = 100
            reasons.append("Chunks: sentences streamed one by one; token engines decode 25 speech tokens (1 s) for the first audio, then 100 per chunk to pay the decoder's per-call cost less often.")
            let parallel = Self.parallelSentences(intraOpThreads: intraOp)
            chunking.parallelSentences = parallel.count
            reasons.append(parallel.reason)
        }

        return PlanEntry(
            provider: provider, deviceIndex: device?.index, components: components, intraOpThreads: intraOp, interOpThreads: interOp,
            graphOptimization: level, optimizedModelCacheKey: cacheKey, cudnnConvAlgoSearch: cudnn, ioBinding: ioBinding,
            chunking: chunking, reasons: reasons
        )
    }

    // MARK: - Validation

    private func validate(inventory: ModelInventory, overrides: PlanOverrides) throws {
        guard !inventory.components.isEmpty else {
            throw VoxError.invalidModel("The model \(inventory.model) has no ONNX files: check its directory.")
        }
        for component in inventory.components where component.variants.isEmpty {
            throw VoxError.invalidModel("The model \(inventory.model) has no file for its \(component.name) graph: download it again.")
        }
        for (name, value) in [("intra-op threads", overrides.intraOpThreads), ("inter-op threads", overrides.interOpThreads)] {
            if let v = value, v < 1 { throw VoxError.invalidInput("\(name) must be at least 1 (got \(v)).") }
        }
        if let forced = overrides.precision, !inventory.components.contains(where: { $0.has(forced) }) {
            let shipped = Set(inventory.components.flatMap(\.precisions)).map(\.rawValue).sorted().joined(separator: ", ")
            throw VoxError.invalidInput("The model \(inventory.model) ships no \(forced) variant; it has \(shipped).")
        }
    }

    // MARK: - Helpers

    /// Two entries that would build the same engine.
    static func sameExecution(_ a: PlanEntry, _ b: PlanEntry) -> Bool {
        a.provider == b.provider && a.deviceIndex == b.deviceIndex && a.components == b.components
    }

    static func removingDuplicates(_ entries: [PlanEntry]) -> [PlanEntry] {
        var kept: [PlanEntry] = []
        for entry in entries where !kept.contains(where: { sameExecution($0, entry) }) { kept.append(entry) }
        return kept
    }

    /// Estimated memory for an entry's sessions, nil when the inventory does not know the sizes.
    static func estimatedBytes(_ entry: PlanEntry, _ inventory: ModelInventory) -> UInt64? {
        var total: UInt64 = 0
        var known = false
        for plan in entry.components {
            if let bytes = inventory.component(named: plan.name)?.bytes(for: plan.precision) {
                total += bytes
                known = true
            }
        }
        return known ? UInt64(Double(total) * memoryOverheadFactor) : nil
    }

    static func optimizedModelCacheKey(hardware: HardwareReport, components: [ComponentPlan], level: GraphOptimizationLevel) -> String {
        let material = [
            "voxserve-optimized-model-v1", hardware.cpu.modelName, hardware.cpu.features.names.joined(separator: ","),
            hardware.onnxRuntimeProviders.joined(separator: ","), level.rawValue,
            components.map { "\($0.name)=\($0.precision)" }.joined(separator: ","),
        ].joined(separator: "|")
        return SHA256.hash(data: Data(material.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Sentence-level parallelism on CPU. A VITS sentence is a chain of small convolutions that
    /// ONNX Runtime's intra-op pool splits poorly (on 2 cores, 2 threads on one sentence were no
    /// faster than 1, measured with `voxserve bench optimizer`), while two sentences on one thread
    /// each use both cores fully. Half the threads become sentence workers, at most 4.
    static func parallelSentences(intraOpThreads: Int) -> (count: Int, reason: String) {
        guard intraOpThreads >= 2 else {
            return (1, "Sentences one at a time: a single thread has nothing to share.")
        }
        let workers = intraOpThreads < 4 ? intraOpThreads : min(4, intraOpThreads / 2)
        let each = max(1, intraOpThreads / workers)
        return (workers, "Engines with independent sentences (Piper) synthesize \(workers) sentences at once with \(each) thread\(each == 1 ? "" : "s") each, handed out in order: small convolutions split across threads scale worse than whole sentences do.")
    }

    static func gib(_ bytes: UInt64) -> String {
        String(format: "%.1f GiB", Double(bytes) / 1_073_741_824)
    }
}
