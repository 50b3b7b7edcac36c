import Foundation
import VoxCore
import VoxONNX

/// The ordered ways to run a model on this machine: the first entry is the plan, the rest are the
/// fallbacks, and the last one is always CPU fp32 (or the most precise variant shipped).
public struct ExecutionPlan: Sendable, Equatable, Codable {
    public var model: String
    public var entries: [PlanEntry]
    /// Why the plan looks as it does as a whole (why CUDA or not, which CPU features matter).
    public var reasons: [String]
    /// Entries (indices) whose speed is measured against each other at warm-up, the fastest then
    /// running first; nil when the order stands as planned. Set for Piper when CUDA and the CPU are
    /// both planned and the user forced neither: VITS on short sentences is often faster on the CPU
    /// than on a GPU, and only a measurement on this machine tells.
    public var measuredAtWarmUp: [Int]?

    public init(model: String, entries: [PlanEntry], reasons: [String], measuredAtWarmUp: [Int]? = nil) {
        self.model = model
        self.entries = entries
        self.reasons = reasons
        self.measuredAtWarmUp = measuredAtWarmUp
    }

    public var primary: PlanEntry? { entries.first }
}

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
    /// cuDNN convolution algorithm search, passed to the CUDA provider; nil on CPU.
    public var cudnnConvAlgoSearch: CUDNNConvAlgoSearch?
    /// Token engines on CUDA: bind the language model's inputs and outputs to device memory (ORT
    /// IO binding), so the KV cache stays on the GPU between steps.
    public var ioBinding: Bool
    public var chunking: ChunkingPolicy
    /// Token engines: how many sentences decode together and how long a joining one may stall them;
    /// nil for engines that do not batch (Piper).
    public var batching: BatchingPolicy?
    /// Why each setting was chosen, in words.
    public var reasons: [String]

    public init(
        provider: ExecutionProvider, deviceIndex: Int? = nil, components: [ComponentPlan], intraOpThreads: Int, interOpThreads: Int = 1,
        graphOptimization: GraphOptimizationLevel = .all, optimizedModelCacheKey: String? = nil, cudnnConvAlgoSearch: CUDNNConvAlgoSearch? = nil,
        ioBinding: Bool = false, chunking: ChunkingPolicy = ChunkingPolicy(), batching: BatchingPolicy? = nil, reasons: [String] = []
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
        self.batching = batching
        self.reasons = reasons
    }

    public func precision(for component: ModelComponentID) -> ModelPrecision? {
        components.first { $0.name == component }?.precision
    }

    public func usesCUDAGraph(for component: ModelComponentID) -> Bool {
        components.first { $0.name == component }?.cudaGraph ?? false
    }

    public func gpuMemoryLimit(for component: ModelComponentID) -> UInt64? {
        components.first { $0.name == component }?.gpuMemoryLimitBytes
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

/// What one plan entry does with one model component.
public struct ComponentPlan: Sendable, Equatable, Codable {
    public var name: ModelComponentID
    public var precision: ModelPrecision
    /// Capture the graph once and replay it (ORT CUDA `enable_cuda_graph`); only for static shapes on CUDA.
    public var cudaGraph: Bool
    /// CUDA only: the most GPU memory this graph's session may take (its arena's `gpu_mem_limit`),
    /// its share of the plan's GPU memory budget; nil on CPU.
    public var gpuMemoryLimitBytes: UInt64?

    public init(name: ModelComponentID, precision: ModelPrecision, cudaGraph: Bool = false, gpuMemoryLimitBytes: UInt64? = nil) {
        self.name = name
        self.precision = precision
        self.cudaGraph = cudaGraph
        self.gpuMemoryLimitBytes = gpuMemoryLimitBytes
    }
}

/// How an engine cuts work so that the first audio comes early. Each field is set only for the
/// kind of engine it drives (``ModelInventory/Kind``): a plan states only what runs.
public struct ChunkingPolicy: Sendable, Equatable, Codable {
    /// Token engines: sentences longer than this are split at commas, then spaces (`TextSegmenter`)
    /// before generation. Nil for Piper, whose sentences are espeak-ng's clauses.
    public var maxSentenceCharacters: Int?
    /// Token engines (Chatterbox, 25 speech tokens per second of audio): tokens decoded into the
    /// first audio chunk. Small, so that the first audio comes early.
    public var firstChunkTokens: Int?
    /// Token engines: tokens per later chunk, larger so that the decoder's fixed cost per call and
    /// the seams between chunks are paid less often.
    public var chunkTokens: Int?
    /// Engines whose sentences are independent (Piper): how many sentences run at once, each with
    /// `intraOpThreads / parallelSentences` threads. Still handed out in order. 1 for token engines.
    public var parallelSentences: Int
    /// Token engines: decode each chunk after the first while the language model generates the
    /// next one (nil: no). Only where the two do not fight for the same few cores.
    public var overlapDecoder: Bool?
    /// Token engines: most decoder calls at once across concurrent streams, a stream's first chunk
    /// ahead of others' later ones (nil: no limit).
    public var decoderConcurrency: Int?

    public init(
        maxSentenceCharacters: Int? = nil, firstChunkTokens: Int? = nil, chunkTokens: Int? = nil, parallelSentences: Int = 1,
        overlapDecoder: Bool? = nil, decoderConcurrency: Int? = nil
    ) {
        self.maxSentenceCharacters = maxSentenceCharacters
        self.firstChunkTokens = firstChunkTokens
        self.chunkTokens = chunkTokens
        self.parallelSentences = parallelSentences
        self.overlapDecoder = overlapDecoder
        self.decoderConcurrency = decoderConcurrency
    }
}

/// Continuous batching of a token engine's language model: concurrent sentences share each decode
/// step, joining and leaving at step boundaries.
public struct BatchingPolicy: Sendable, Equatable, Codable {
    /// Most sentences decoding together; 1 turns batching off (each sentence alone).
    public var maxBatch: Int
    /// While rows decode, a joining sentence's prefill runs at most this many positions between two
    /// of their steps: the bound on how long a join stalls them.
    public var prefillChunkPositions: Int
    /// KV-cache bytes one sentence holds at the plan's longest sequence (every row of it: two with
    /// guidance), the figure the memory bound divides by.
    public var kvBytesPerSentence: UInt64

    public init(maxBatch: Int, prefillChunkPositions: Int, kvBytesPerSentence: UInt64) {
        self.maxBatch = maxBatch
        self.prefillChunkPositions = prefillChunkPositions
        self.kvBytesPerSentence = kvBytesPerSentence
    }
}

/// The shape of a language model's KV cache, for the memory arithmetic behind `BatchingPolicy`.
public struct KVCacheGeometry: Sendable, Equatable, Codable {
    public var layers: Int
    public var heads: Int
    public var headDim: Int
    /// Rows one sentence takes: 1, or 2 with classifier-free guidance.
    public var rowsPerSentence: Int
    /// Longest sequence a sentence reaches: conditioning, prompt and the most new tokens.
    public var maxPositions: Int

    public init(layers: Int, heads: Int, headDim: Int, rowsPerSentence: Int = 1, maxPositions: Int) {
        self.layers = layers
        self.heads = heads
        self.headDim = headDim
        self.rowsPerSentence = rowsPerSentence
        self.maxPositions = maxPositions
    }

    /// Bytes of keys and values per position per row: layers × 2 × heads × head_dim × element size.
    public func bytesPerPosition(elementSize: Int) -> UInt64 {
        UInt64(layers * 2 * heads * headDim * elementSize)
    }

    /// Bytes one sentence's cache holds at `maxPositions`.
    public func bytesPerSentence(elementSize: Int) -> UInt64 {
        bytesPerPosition(elementSize: elementSize) * UInt64(maxPositions * rowsPerSentence)
    }
}

/// What the user forced (CLI flags, configuration). Every field defaults to "let the planner decide".
public struct PlanOverrides: Sendable, Equatable, Codable {
    /// Run only on this provider (`--provider cpu|cuda`; the final CPU fp32 safety entry stays).
    /// Forcing CUDA where it cannot work is an error, not a silent CPU plan. Forcing either also
    /// turns off the warm-up measurement between them.
    public var provider: ExecutionProvider?
    /// Use this precision wherever a component ships it.
    public var precision: ModelPrecision?
    public var intraOpThreads: Int?
    public var interOpThreads: Int?
    /// Turn graph optimization, the optimized-model cache and CUDA graphs off (for debugging a model
    /// that an optimization breaks).
    public var disableOptimizations: Bool
    /// Use this GPU (NVML index, as nvidia-smi numbers it) instead of the best one.
    public var deviceIndex: Int?
    /// The most GPU memory VoxServe may use on the card, all engines and worker processes together
    /// (`--gpu-memory-limit`, `VOXSERVE_GPU_MEMORY_LIMIT`); nil: the memory free when probed.
    public var gpuMemoryLimitBytes: UInt64?
    /// How many engines share that budget (worker processes × models loaded in each); nil means 1.
    public var enginesSharingGPU: Int?
    /// Token engines: most sentences decoding together (`--max-batch`, `VOXSERVE_MAX_BATCH`); 1 turns
    /// batching off. Nil: planned from the hardware.
    public var maxBatch: Int?

    public init(
        provider: ExecutionProvider? = nil, precision: ModelPrecision? = nil, intraOpThreads: Int? = nil, interOpThreads: Int? = nil,
        disableOptimizations: Bool = false, deviceIndex: Int? = nil, gpuMemoryLimitBytes: UInt64? = nil, enginesSharingGPU: Int? = nil,
        maxBatch: Int? = nil
    ) {
        self.provider = provider
        self.precision = precision
        self.intraOpThreads = intraOpThreads
        self.interOpThreads = interOpThreads
        self.disableOptimizations = disableOptimizations
        self.deviceIndex = deviceIndex
        self.gpuMemoryLimitBytes = gpuMemoryLimitBytes
        self.enginesSharingGPU = enginesSharingGPU
        self.maxBatch = maxBatch
    }
}

/// The components of one model and the precision variants of each that are present on disk.
/// The engine's file layout builds it (`PiperVoice`, `ChatterboxModelFiles`).
public struct ModelInventory: Sendable, Equatable, Codable {
    /// How the engine turns text into audio, which decides what its plan's chunking holds.
    public enum Kind: String, Sendable, Equatable, Codable {
        /// Sentences are independent one-shot graph runs (Piper/VITS): they may run in parallel.
        case sentences
        /// Speech tokens come one per language-model step with a KV cache (Chatterbox): audio is
        /// decoded in token chunks, and the cache may stay on the GPU between steps.
        case tokens
    }

    /// The model's name, for example "chatterbox-turbo" or "en_US-joe-medium".
    public var model: String
    public var kind: Kind
    public var components: [ModelComponent]
    /// Token engines: the language model's KV cache, for the batch's memory bound.
    public var kvCache: KVCacheGeometry?

    public init(model: String, kind: Kind = .sentences, components: [ModelComponent], kvCache: KVCacheGeometry? = nil) {
        self.model = model
        self.kind = kind
        self.components = components
        self.kvCache = kvCache
    }

    public func component(named name: ModelComponentID) -> ModelComponent? { components.first { $0.name == name } }
}

/// One ONNX graph of a model (Piper has one, Chatterbox four) and the variants of it on disk.
public struct ModelComponent: Sendable, Equatable, Codable {
    /// The graph, for example `.languageModel` or `.piperModel`.
    public var name: ModelComponentID
    public var variants: [ModelVariant]
    /// True when every run of this graph sees the same input shapes, the condition for capturing it
    /// once as a CUDA graph and replaying it. Piper/VITS never has static shapes (its length depends
    /// on the phonemes and on predicted durations).
    public var hasStaticShapes: Bool

    public init(name: ModelComponentID, variants: [ModelVariant], hasStaticShapes: Bool = false) {
        self.name = name
        self.variants = variants
        self.hasStaticShapes = hasStaticShapes
    }

    public init(name: ModelComponentID, precisions: [ModelPrecision], hasStaticShapes: Bool = false) {
        self.init(name: name, variants: precisions.map { ModelVariant($0) }, hasStaticShapes: hasStaticShapes)
    }

    public var precisions: [ModelPrecision] { variants.map(\.precision) }

    public func has(_ precision: ModelPrecision) -> Bool { variants.contains { $0.precision == precision } }

    public func bytes(for precision: ModelPrecision) -> UInt64? {
        variants.first { $0.precision == precision }?.bytes
    }
}

/// One precision variant of a model component that is present on disk.
public struct ModelVariant: Sendable, Equatable, Codable {
    public var precision: ModelPrecision
    /// Size of the weights (the .onnx file plus its external data), when known. Lets the planner
    /// skip variants that cannot fit in GPU memory or RAM.
    public var bytes: UInt64?

    public init(_ precision: ModelPrecision, bytes: UInt64? = nil) {
        self.precision = precision
        self.bytes = bytes
    }
}
