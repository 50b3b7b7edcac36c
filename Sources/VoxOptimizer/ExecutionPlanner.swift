import Crypto
import Foundation
import VoxCore
import VoxONNX

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

    /// `measured`: per-token speeds `voxserve bench` measured on this CPU; when given, the CPU
    /// entries follow them (fastest first) instead of the order the CPU's features suggest.
    public func plan(
        hardware: HardwareReport, inventory: ModelInventory, overrides: PlanOverrides = PlanOverrides(), measured: MeasuredPrecisionSpeed? = nil
    ) throws -> ExecutionPlan {
        try validate(inventory: inventory, overrides: overrides)
        var planReasons: [String] = []

        let gpu = try chooseGPU(hardware: hardware, overrides: overrides)
        planReasons.append(gpu.reason)

        var entries: [PlanEntry] = []
        if let device = gpu.device {
            let (order, orderReason) = overrides.precision.map { ([$0], "precision \($0) forced by the user") }
                ?? Self.gpuPrecisionOrder(device.computeCapability)
            planReasons.append("CUDA precision order \(order.map(\.rawValue).joined(separator: " → ")): \(orderReason).")
            let (budget, budgetReason) = Self.gpuMemoryBudget(device: device, overrides: overrides)
            planReasons.append(budgetReason)
            for tier in order {
                var entry = makeEntry(provider: .cuda, device: device, tier: tier, order: order, hardware: hardware, inventory: inventory, overrides: overrides)
                Self.limitGPUMemory(&entry, budget: budget, inventory: inventory)
                if let required = Self.estimatedBytes(entry, inventory), required > budget {
                    planReasons.append("CUDA \(tier) skipped: about \(Self.gib(required)) needed, \(Self.gib(budget)) budgeted on \(device.name).")
                    continue
                }
                entries.append(entry)
            }
            if entries.isEmpty && overrides.precision == nil {
                // Nothing fits at full or half precision: 4-bit weights are the way to stay on the GPU.
                for tier in Self.gpuMemorySavingOrder(device.computeCapability) {
                    var entry = makeEntry(provider: .cuda, device: device, tier: tier, order: [tier], hardware: hardware, inventory: inventory, overrides: overrides)
                    Self.limitGPUMemory(&entry, budget: budget, inventory: inventory)
                    guard entry.components.contains(where: { $0.precision == tier }) else { continue }
                    if let required = Self.estimatedBytes(entry, inventory), required > budget { continue }
                    planReasons.append("CUDA \(tier): the only variant that fits in \(Self.gib(budget)) of GPU memory.")
                    entries.append(entry)
                    break
                }
            }
        }

        if overrides.provider != .cuda {
            let (order, orderReason) = overrides.precision.map { ([$0], "precision \($0) forced by the user") }
                ?? Self.measuredOrder(measured, inventory: inventory, fallback: Self.cpuPrecisionOrder(hardware.cpu.features))
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

        if inventory.kind == .tokens {
            let gpuBudget = gpu.device.map { Self.gpuMemoryBudget(device: $0, overrides: overrides).bytes } ?? 0
            for i in entries.indices {
                let budget = entries[i].provider == .cuda ? gpuBudget : hardware.memory.usableBytes
                let (policy, reasons) = Self.batching(for: entries[i], inventory: inventory, memoryBudget: budget, hardware: hardware, overrides: overrides)
                entries[i].batching = policy
                entries[i].reasons += reasons
            }
        }

        // The safety net: CPU at full precision. Kept even when it may not fit, because it is the
        // one entry whose failure says the model itself (not an optimization) is at fault.
        var safety = makeEntry(provider: .cpu, device: nil, tier: .fp32, order: [.fp32], hardware: hardware, inventory: inventory, overrides: overrides)
        if inventory.kind == .tokens {
            let (policy, reasons) = Self.batching(
                for: safety, inventory: inventory, memoryBudget: hardware.memory.usableBytes, hardware: hardware, overrides: overrides)
            safety.batching = policy
            safety.reasons += reasons
        }
        safety.reasons.insert("Last resort: CPU with the most precise variant shipped, which runs wherever ONNX Runtime runs.", at: 0)
        entries.removeAll { Self.sameExecution($0, safety) }
        entries.append(safety)
        entries = Self.removingDuplicates(entries)

        // Piper: CUDA first is a guess, not a fact. Measure the first CUDA entry against the first
        // CPU entry at warm-up unless the user chose.
        var measured: [Int]?
        if inventory.kind == .sentences, overrides.provider == nil,
            let cuda = entries.firstIndex(where: { $0.provider == .cuda }), let cpu = entries.firstIndex(where: { $0.provider == .cpu })
        {
            measured = [cuda, cpu]
            planReasons.append("CUDA or CPU decided by measurement at warm-up: the same sentences are timed on \(entries[cuda].label) and \(entries[cpu].label), and the faster runs first (VITS on short sentences is often faster on the CPU); --provider cpu|cuda decides instead.")
        }
        return ExecutionPlan(model: inventory.model, entries: entries, reasons: planReasons, measuredAtWarmUp: measured)
    }

    /// Sentences decoding together when nothing says otherwise: 64 on a GPU (weights read once per
    /// step for every row; more rows lengthen each step past a listener's patience long before the
    /// GPU saturates), fewer on a CPU, where arithmetic catches up with the weight reads.
    static let maxGPUBatch = 64
    static let maxCPUBatch = 16
    /// The KV cache of Chatterbox Turbo's language model when an inventory does not give one:
    /// GPT-2 medium (24 layers, 16 heads of 64), conditioning 376 positions (speaker embedding and
    /// 375 prompt tokens), a 300-character sentence (at most ~150 tokens) and 1,000 new tokens.
    public static let chatterboxTurboKVCache = KVCacheGeometry(layers: 24, heads: 16, headDim: 64, maxPositions: 376 + 150 + 1000)

    /// Below this many usable cores the CPU plan does not batch (measured on 2; see `batching`).
    static let minCoresToBatchOnCPU = 4

    /// How a token engine batches on `entry`: the most sentences decoding together (bounded by the
    /// KV cache's memory at the longest sequence, and by cores on a CPU), and the prefill chunk that
    /// bounds how long a joining sentence stalls the others. `--max-batch` overrides the first.
    static func batching(
        for entry: PlanEntry, inventory: ModelInventory, memoryBudget: UInt64, hardware: HardwareReport, overrides: PlanOverrides
    ) -> (policy: BatchingPolicy, reasons: [String]) {
        let geometry = inventory.kvCache ?? chatterboxTurboKVCache
        let precision = entry.precision(for: .languageModel) ?? .fp32
        let elementSize = [ModelPrecision.fp16, .q4f16, .bf16].contains(precision) ? 2 : 4
        let perPosition = geometry.bytesPerPosition(elementSize: elementSize)
        let perSentence = geometry.bytesPerSentence(elementSize: elementSize)
        // On CUDA the cache lives in the language model's own arena, capped at its share of the GPU
        // budget (`limitGPUMemory`); elsewhere in the memory the whole engine may use.
        let lm = entry.components.first { $0.name == .languageModel }
        let arena = entry.provider == .cuda ? lm?.gpuMemoryLimitBytes : nil
        let weights = estimatedBytes(arena != nil ? lm.map { [$0] } ?? [] : entry.components, inventory) ?? 0
        let budget = arena ?? memoryBudget
        let free = budget > weights ? budget - weights : 0
        // A step holds the cache it reads and the one it writes (one position longer) at once.
        let memoryBound = budget == 0 ? Int.max : Int(min(UInt64(Int.max), free / max(1, 2 * perSentence)))
        var reasons: [String] = []
        let rows = geometry.rowsPerSentence == 1 ? "1 row" : "\(geometry.rowsPerSentence) rows (guidance)"
        let memoryText = budget == 0
            ? "memory unknown"
            : "\(gib(free)) left after the weights\(arena != nil ? " in the language model's arena (its share of the GPU budget)" : "") allows \(memoryBound), counting twice each sentence's cache (a step reads one and writes the next)"
        reasons.append("KV cache: \(geometry.layers) layers × 2 × \(geometry.heads) heads × \(geometry.headDim) × \(elementSize) bytes = \(perPosition / 1024) KiB per position per row; \(geometry.maxPositions) positions × \(rows) = \(perSentence / (1024 * 1024)) MiB per sentence at the longest; \(memoryText).")
        let computeBound: Int
        if entry.provider == .cuda {
            computeBound = maxGPUBatch
            reasons.append("Batch: a GPU step reads the weights once for every row; at most \(maxGPUBatch) sentences, so a step stays short for each listener.")
        } else {
            let quantized = [ModelPrecision.int8, .q4, .q4f16].contains(precision)
            let perCore = quantized ? 2 : 4
            let cores = hardware.cpu.usableCores
            computeBound = max(1, min(maxCPUBatch, perCore * cores))
            reasons.append("Batch: on a CPU a decode step in \(precision) is bound by reading the weights until the rows' arithmetic catches up: \(perCore) sentences per core × \(cores) core\(cores == 1 ? "" : "s")\(quantized ? " (quantized weights are cheap to read, so arithmetic catches up sooner)" : ""), at most \(maxCPUBatch).")
        }
        var planned = max(1, min(computeBound, memoryBound))
        if entry.provider == .cpu, hardware.cpu.usableCores < minCoresToBatchOnCPU, overrides.maxBatch == nil {
            // Measured on 2 cores (q4 stand-in, one warm 50-token request through `voxserve serve`):
            // first audio 2.77 s at batch 1 against 3.46 s batched, because the batch generates
            // ahead while the request's decoder runs and the two share the cores; four concurrent
            // streams gained only 1.1-1.3x in tokens/s, as prefill and the decoder do not batch.
            reasons.append("Batching off on this CPU (\(hardware.cpu.usableCores) core\(hardware.cpu.usableCores == 1 ? "" : "s"), fewer than \(minCoresToBatchOnCPU)): \(planned) sentences would fit, but on 2 cores batching measured 1.1-1.3x the tokens/s of four streams one after another and delayed a lone request's first audio (3.46 s against 2.77 s), since the batch generates ahead while the decoder shares the cores (--max-batch N turns it on anyway).")
            planned = 1
        }
        if entry.provider == .cuda {
            reasons.append("The batch's KV cache stays in GPU memory (IO binding): when a sentence joins or leaves, a small gather graph repacks it on the GPU, so it never crosses PCIe. Not yet measured on a GPU by `voxserve bench chatterbox`; --max-batch 1 decodes each sentence alone.")
        }
        let maxBatch = max(1, overrides.maxBatch ?? planned)
        if let forced = overrides.maxBatch {
            reasons.append("At most \(forced) sentence\(forced == 1 ? "" : "s") per step, set by the user (planned: \(planned))\(forced == 1 ? ": batching off, each sentence alone" : "").")
        } else {
            reasons.append(planned == 1
                ? "One sentence per step: each decodes alone."
                : "At most \(planned) sentences per step (continuous batching: concurrent requests and a long text's next sentence share each step).")
        }
        // Each prefill chunk reads every weight once, as a decode step does: on a CPU, chunks much
        // smaller than this cost more in weight reads than they save in stall (16-position chunks
        // made 4 joining stand-in sentences 30 % slower than whole prefills; 128 cost 4 %).
        let chunk = entry.provider == .cuda ? 256 : max(64, 64 * hardware.cpu.usableCores)
        reasons.append("A joining sentence's prefill runs at most \(chunk) positions between two steps of the others, so a join stalls them for about one chunk at a time (each chunk reads every weight once, so chunks are not made smaller).")
        return (BatchingPolicy(maxBatch: maxBatch, prefillChunkPositions: chunk, kvBytesPerSentence: perSentence), reasons)
    }

    /// The GPU memory one engine may use: the free memory (or the user's limit, when lower) split
    /// between the engines that share the card.
    static func gpuMemoryBudget(device: GPUDevice, overrides: PlanOverrides) -> (bytes: UInt64, reason: String) {
        let sharers = UInt64(max(1, overrides.enginesSharingGPU ?? 1))
        var total = device.memoryFreeBytes
        var why = "\(gib(device.memoryFreeBytes)) free on \(device.name)"
        if let limit = overrides.gpuMemoryLimitBytes, limit < total {
            total = limit
            why = "a limit of \(gib(limit)) set by the user (\(gib(device.memoryFreeBytes)) free)"
        }
        let each = total / sharers
        let share = sharers > 1 ? ", shared by \(sharers) engines: \(gib(each)) each" : ""
        return (each, "GPU memory budget: \(why)\(share); each CUDA session's arena is capped at its share (gpu_mem_limit) and grows only as requested (kSameAsRequested).")
    }

    /// Splits an engine's GPU memory budget between its graphs, by the size of their weights when
    /// known (evenly otherwise).
    static func limitGPUMemory(_ entry: inout PlanEntry, budget: UInt64, inventory: ModelInventory) {
        let sizes = entry.components.map { inventory.component(named: $0.name)?.bytes(for: $0.precision) }
        let known = sizes.compactMap { $0 }
        let total = known.reduce(0, +)
        for i in entry.components.indices {
            let share: Double
            if known.count == sizes.count, total > 0 {
                share = Double(sizes[i]!) / Double(total)
            } else {
                share = 1 / Double(entry.components.count)
            }
            entry.components[i].gpuMemoryLimitBytes = UInt64(Double(budget) * share)
        }
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
            if provider == .cuda, inventory.kind == .tokens, component.name == .languageModel {
                reasons.append("\(component.name): no CUDA graph. Capture needs fixed shapes and the same device buffers on every replay; this decode loop grows its KV cache by one position per step (past_key_values are concatenated inside the export), so a captured graph would replay stale buffers. Meeting the rules needs a KV cache preallocated to the maximum length with the attention mask marking the filled part, which these exports do not take.")
            } else if provider == .cuda {
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
        // Only Piper's engine loads and saves optimized graphs (`OptimizedModelFile`); a token
        // engine's plan does not claim it.
        var cacheKey: String?
        if provider == .cpu && optimize && inventory.kind == .sentences {
            cacheKey = Self.optimizedModelCacheKey(hardware: hardware, components: components, level: level)
            reasons.append("Optimized graphs saved and reused (key \(cacheKey!.prefix(12))…): later starts skip optimization.")
        } else if provider == .cuda {
            reasons.append("No optimized-model file on CUDA: a model saved from a CUDA session holds device-specific fused nodes, and optimizing at load is short beside CUDA start-up.")
        }

        var cudnn: CUDNNConvAlgoSearch?
        var ioBinding = false
        var chunking = ChunkingPolicy()
        if provider == .cuda {
            cudnn = .heuristic
            reasons.append("cuDNN convolution algorithms chosen by heuristic: the default exhaustive search benchmarks every new input shape, and TTS shapes change with every sentence.")
            reasons.append("Node placement recorded at load (ONNX Runtime's placement log): the report and doctor show how many nodes run on CUDA and on the CPU, and the Memcpy nodes between them.")
        }
        switch inventory.kind {
        case .tokens:
            // On CPU every decoder call costs more, so later chunks are longer; the first stays short
            // because time to first audio is what a listener notices.
            chunking.maxSentenceCharacters = 300
            chunking.firstChunkTokens = 25
            chunking.chunkTokens = provider == .cuda ? 50 : 100
            reasons.append("Chunks: sentences of at most 300 characters, each streamed as it is generated: 25 speech tokens (1 s) for the first audio, then \(chunking.chunkTokens!) per chunk\(provider == .cuda ? "" : " to pay the decoder's per-call cost less often").")
            // Measured on 2 cores (voxserve bench-chatterbox-run, q4 stand-in, 250 tokens): decoding a
            // chunk while the next one is generated doubled the per-token time (46.7 against 23.6 ms)
            // and lengthened the whole (16.0 against 12.5 s). On the GPU the decoder runs on the device.
            chunking.overlapDecoder = provider == .cuda
            reasons.append(provider == .cuda
                ? "Decoder overlapped: each chunk after the first is decoded on the GPU while the language model generates the next."
                : "Decoder not overlapped with generation: on the CPU the two share the cores, and overlapping measured slower.")
            // Measured through the server (q4 stand-in, 4 streams, 2 cores): one call at a time, first
            // chunks first, brought the first audio's p95 from 9.7 s to 7.7 s at the same throughput.
            if provider == .cpu {
                chunking.decoderConcurrency = 1
                reasons.append("Concurrent streams decode one chunk at a time, a stream's first chunk first, and generation waits while a first chunk decodes: the decoder is bound by arithmetic, and calls at once on the same cores all finish late.")
            }
            if provider == .cuda {
                ioBinding = true
                reasons.append("IO binding: the language model's KV cache stays in GPU memory between steps instead of crossing to the host.")
            }
        case .sentences:
            if provider == .cpu {
                let parallel = Self.parallelSentences(intraOpThreads: intraOp)
                chunking.parallelSentences = parallel.count
                reasons.append(parallel.reason)
            } else {
                reasons.append("Sentences synthesized one after another on the GPU and streamed as each finishes.")
            }
        }

        return PlanEntry(
            provider: provider, deviceIndex: device?.cudaDeviceID, components: components, intraOpThreads: intraOp, interOpThreads: interOp,
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
        if let batch = overrides.maxBatch, !(1...1024).contains(batch) {
            throw VoxError.invalidInput("--max-batch must be 1…1024 (got \(batch)); 1 turns batching off.")
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
        estimatedBytes(entry.components, inventory)
    }

    /// The memory `components` need with their chosen variants (weights × `memoryOverheadFactor`),
    /// nil when no size is known.
    static func estimatedBytes(_ components: [ComponentPlan], _ inventory: ModelInventory) -> UInt64? {
        var total: UInt64 = 0
        var known = false
        for plan in components {
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

/// The GPU and thread decisions.
extension ExecutionPlanner {
    /// Picks the GPU to run on, or says why CUDA is out. Throws only when the user forced CUDA (or a
    /// GPU index) that cannot be had: a forced choice must not turn silently into a CPU plan.
    func chooseGPU(hardware: HardwareReport, overrides: PlanOverrides) throws -> (device: GPUDevice?, reason: String) {
        if overrides.provider == .cpu {
            return (nil, "CPU forced by the user: CUDA not considered.")
        }
        let listed = hardware.gpu.devices
        let devices = listed.filter { $0.cudaDeviceID != nil }
        func refuse(_ reason: String) throws -> (device: GPUDevice?, reason: String) {
            if overrides.provider == .cuda {
                throw VoxError(.unsupported, "CUDA was requested, but \(reason)", detail: "provider override")
            }
            return (nil, "CPU only: \(reason)")
        }
        guard !listed.isEmpty else {
            return try refuse("there is no usable NVIDIA GPU (\(hardware.gpu.unavailableReason ?? "NVML lists none")).")
        }
        guard !devices.isEmpty else {
            return try refuse("CUDA sees none of this machine's GPUs (\(hardware.gpu.cudaMappingNote ?? "CUDA_VISIBLE_DEVICES hides them")).")
        }
        let device: GPUDevice
        if let index = overrides.deviceIndex {
            guard let chosen = listed.first(where: { $0.index == index }) else {
                let known = listed.map { "\($0.index) (\($0.name))" }.joined(separator: ", ")
                throw VoxError.invalidInput("There is no GPU \(index); this machine has \(known).")
            }
            guard chosen.cudaDeviceID != nil else {
                throw VoxError.invalidInput("GPU \(index) (\(chosen.name)) is not visible to CUDA in this process (CUDA_VISIBLE_DEVICES).")
            }
            device = chosen
        } else {
            // Best GPU: one this ONNX Runtime build can run on, then the most memory, then the newest.
            device = devices.max { a, b in
                let supportedA = gpuBuild.support(for: a.computeCapability).supported
                let supportedB = gpuBuild.support(for: b.computeCapability).supported
                if supportedA != supportedB { return !supportedA }
                if a.memoryTotalBytes != b.memoryTotalBytes { return a.memoryTotalBytes < b.memoryTotalBytes }
                if a.computeCapability != b.computeCapability { return a.computeCapability < b.computeCapability }
                return a.index > b.index
            }!
        }
        let cudaID = device.cudaDeviceID!
        let renumbered = cudaID != device.index ? ", CUDA device \(cudaID)" : ""
        let described = "\(device.name) (compute capability \(device.computeCapability), \(Self.gib(device.memoryTotalBytes))\(renumbered))"
        guard hardware.hasCUDAProvider else {
            return try refuse("\(described) is present, but ONNX Runtime offers only \(hardware.onnxRuntimeProviders.joined(separator: ", ")); install the GPU build (make setup GPU=1) to use it.")
        }
        let support = gpuBuild.support(for: device.computeCapability)
        guard support.supported else {
            return try refuse("\(described) cannot run this build: \(support.reason ?? "unsupported").")
        }
        if let driverCUDA = hardware.gpu.cudaDriverVersion, driverCUDA / 1000 < gpuBuild.cudaMajorVersion {
            return try refuse("the NVIDIA driver \(hardware.gpu.driverVersion ?? "") supports CUDA \(driverCUDA / 1000).\(driverCUDA % 1000 / 10), and the ONNX Runtime GPU build needs CUDA \(gpuBuild.cudaMajorVersion); update the driver.")
        }
        let code = gpuBuild.architectures.map { "; the build carries \(Self.describeArchitectures($0, for: device.computeCapability))" }
            ?? "; the build's architectures were not read (run make setup GPU=1 again), so only its minimum compute capability \(gpuBuild.minimumComputeCapability) was checked"
        return (device, "CUDA on \(described)\(code).")
    }

    static func describeArchitectures(_ architectures: [CUDAArchitecture], for cc: ComputeCapability) -> String {
        let runs = architectures.filter { $0.runs(on: cc) }.map(\.name)
        return "\(ONNXRuntimeGPUBuild.describe(architectures)) (\(runs.joined(separator: ", ")) runs on \(cc))"
    }

    /// Intra-op threads on the CPU provider: one per usable physical core (SMT siblings share a core's
    /// vector units, so a second thread per core only contends), minus headroom on big machines for
    /// the server's own work (HTTP, audio encoding, phonemization, the other requests), at most
    /// `maxIntraOpThreads`.
    static func cpuIntraOpThreads(_ cpu: CPUReport) -> (count: Int, reason: String) {
        let usable = cpu.usableCores
        let headroom = usable >= 8 ? usable / 8 : 0
        let count = max(1, min(maxIntraOpThreads, usable - headroom))
        var reason = "\(count) intra-op thread\(count == 1 ? "" : "s"): \(usable) usable physical core\(usable == 1 ? "" : "s")"
        if usable < cpu.physicalCores { reason += " (of \(cpu.physicalCores); affinity or cgroup quota)" }
        if headroom > 0 { reason += ", \(headroom) left for the server's own work" }
        if usable - headroom > maxIntraOpThreads { reason += ", capped at \(maxIntraOpThreads): batch-1 operators are too small to split further" }
        return (count, reason + "; SMT siblings unused.")
    }

    /// Intra-op threads for a CUDA session: the GPU runs the graph; host threads only run the few
    /// shape operators left on the CPU, and more of them would spin on cores the server needs.
    static func cudaHostThreads(_ cpu: CPUReport) -> (count: Int, reason: String) {
        let count = min(2, cpu.usableCores)
        return (count, "\(count) intra-op thread\(count == 1 ? "" : "s"): the GPU runs the graph, host threads only its shape operators.")
    }
}

/// Which precision variants each provider prefers, and why.
extension ExecutionPlanner {
    /// Preference order on a CUDA GPU of compute capability `cc`.
    ///
    /// - cc ≥ 8.0 (Ampere and newer): fp16 first. Tensor cores run fp16 and bf16 at the same rate,
    ///   fp16 keeps three more mantissa bits, and ONNX Runtime's CUDA provider covers more operators
    ///   in fp16. bf16 comes next because its fp32-sized exponent cures the one fp16 failure that
    ///   matters (overflow to inf/NaN), then fp32.
    /// - 7.0 ≤ cc < 8.0 (Volta, Turing: T4, RTX 20): fp16 tensor cores but no bf16: fp16, then fp32.
    /// - cc < 7.0 (Pascal and older): fp16 runs at a fraction of the fp32 rate (1/64 on GP102/104):
    ///   fp32 only.
    static func gpuPrecisionOrder(_ cc: ComputeCapability) -> ([ModelPrecision], String) {
        if cc.hasBF16 {
            return ([.fp16, .bf16, .fp32], "compute capability \(cc) has fp16 and bf16 tensor cores; fp16 first for its precision and operator coverage, bf16 next to cure fp16 overflow")
        }
        if cc.hasFastFP16 {
            return ([.fp16, .fp32], "compute capability \(cc) has fp16 tensor cores but no bf16")
        }
        return ([.fp32], "compute capability \(cc) runs fp16 far slower than fp32")
    }

    /// Variants to stay on the GPU with when nothing above fits in its memory: 4-bit weights.
    /// Never chosen otherwise: quantization changes the voice, and GPUs have memory to spare for
    /// these models.
    static func gpuMemorySavingOrder(_ cc: ComputeCapability) -> [ModelPrecision] {
        cc.hasFastFP16 ? [.q4f16, .q4] : [.q4]
    }

    /// Preference order on the CPU. Decoding is bound by memory bandwidth, so quantized weights (a
    /// quarter or an eighth of fp32's bytes) are faster whenever the CPU has the kernels for them:
    ///
    /// - int8 dot products (AVX-512 VNNI, AVX-VNNI, AMX): int8 first, the quantization closest to
    ///   fp32, then q4, then fp32.
    /// - AVX2 without VNNI: q4 first. ONNX Runtime's u8s8 int8 kernels use VPMADDUBSW there, which
    ///   can saturate (ONNX Runtime's quantization guide warns of it); 4-bit `MatMulNBits` computes
    ///   in fp32 after unpacking and has AVX2 kernels. Then int8, then fp32.
    /// - no AVX2: fp32 only; the quantized kernels have no fast path.
    ///
    /// fp16, bf16 and q4f16 never run on the CPU provider by choice: ONNX Runtime's CPU kernels for
    /// them are few, so the graph fills with casts (AVX-512 BF16 and AMX help only through oneDNN).
    static func cpuPrecisionOrder(_ features: SIMDFeatures) -> ([ModelPrecision], String) {
        if features.hasInt8DotProduct {
            let which = [features.avx512VNNI ? "AVX-512 VNNI" : nil, features.avxVNNI ? "AVX-VNNI" : nil, features.amxInt8 ? "AMX" : nil]
                .compactMap { $0 }.joined(separator: ", ")
            return ([.int8, .q4, .fp32], "\(which) gives int8 dot products, so int8 weights are fast and the closest to fp32")
        }
        if features.avx2 {
            return ([.q4, .int8, .fp32], "AVX2 without VNNI: 4-bit weights cut memory traffic and compute in fp32, while int8 kernels there can saturate")
        }
        return ([.fp32], "no AVX2: quantized kernels have no fast path on this CPU")
    }

    /// The CPU order by measured speed (fastest first, then the feature order's others), when a
    /// measurement names precisions this model ships; else `fallback`.
    static func measuredOrder(
        _ measured: MeasuredPrecisionSpeed?, inventory: ModelInventory, fallback: ([ModelPrecision], String)
    ) -> ([ModelPrecision], String) {
        guard let measured else { return fallback }
        let shipped = Set(inventory.components.flatMap(\.precisions))
        let fast = measured.order.filter { shipped.contains($0) && $0 != .fp16 && $0 != .bf16 && $0 != .q4f16 }
        guard !fast.isEmpty else { return fallback }
        let order = fast + fallback.0.filter { !fast.contains($0) }
        return (order, "measured on this CPU by `\(measured.command)` (\(measured.measuredAt)): \(measured.summary)")
    }

    /// Most precise first: what a component falls back to when it ships none of the preferred variants.
    static func precisionRank(_ provider: ExecutionProvider) -> [ModelPrecision] {
        provider == .cuda ? [.fp32, .fp16, .bf16, .q4f16, .q4, .int8] : [.fp32, .int8, .q4, .bf16, .fp16, .q4f16]
    }

    /// The variant of `component` to use for `tier`: the tier itself when shipped, else the next
    /// variant in the provider's order, else the most precise variant shipped.
    static func resolve(_ component: ModelComponent, tier: ModelPrecision, order: [ModelPrecision], provider: ExecutionProvider) -> ModelPrecision {
        let start = order.firstIndex(of: tier) ?? 0
        let candidates = [tier] + order[start...] + precisionRank(provider)
        return candidates.first(where: component.has) ?? component.precisions.first ?? .fp32
    }
}
