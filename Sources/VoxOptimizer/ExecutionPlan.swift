import Foundation
import VoxCore

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

/// What one plan entry does with one model component.
public struct ComponentPlan: Sendable, Equatable, Codable {
    public var name: String
    public var precision: ModelPrecision
    /// Capture the graph once and replay it (ORT CUDA `enable_cuda_graph`); only for static shapes on CUDA.
    public var cudaGraph: Bool

    public init(name: String, precision: ModelPrecision, cudaGraph: Bool = false) {
        self.name = name
        self.precision = precision
        self.cudaGraph = cudaGraph
    }
}

/// How an engine cuts work so that the first audio comes early.
public struct ChunkingPolicy: Sendable, Equatable, Codable {
    /// Synthesize sentence by sentence and hand each out when ready (every engine).
    public var splitSentences: Bool
    /// Sentences longer than this are split at commas, then spaces (`TextSegmenter`).
    public var maxSentenceCharacters: Int
    /// For token-generating engines (Chatterbox, 25 speech tokens per second of audio): tokens
    /// decoded into the first audio chunk. Small, so that the first audio comes early.
    public var firstChunkTokens: Int
    /// Tokens per later chunk: larger, so that the decoder's fixed cost per call and the seams
    /// between chunks are paid less often.
    public var chunkTokens: Int
    /// For engines whose sentences are independent (Piper): how many sentences run at once, each
    /// with `intraOpThreads / parallelSentences` threads. Still handed out in order.
    public var parallelSentences: Int

    public init(
        splitSentences: Bool = true, maxSentenceCharacters: Int = 300, firstChunkTokens: Int = 25, chunkTokens: Int = 50,
        parallelSentences: Int = 1
    ) {
        self.splitSentences = splitSentences
        self.maxSentenceCharacters = maxSentenceCharacters
        self.firstChunkTokens = firstChunkTokens
        self.chunkTokens = chunkTokens
        self.parallelSentences = parallelSentences
    }
}

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

/// The components of one model and the precision variants of each that are present on disk.
public struct ModelInventory: Sendable, Equatable, Codable {
    /// The model's name, for example "chatterbox-turbo" or "en_US-joe-medium".
    public var model: String
    public var components: [ModelComponent]

    public init(model: String, components: [ModelComponent]) {
        self.model = model
        self.components = components
    }

    /// Builds an inventory from ONNX file names and their sizes (external data files such as
    /// `language_model.onnx_data` are added to the size of `language_model.onnx`).
    /// `staticShapeComponents` names the graphs whose engine runs them with fixed shapes.
    public init(model: String, files: [String: UInt64], staticShapeComponents: Set<String> = []) {
        var variants: [String: [ModelVariant]] = [:]
        for name in files.keys.sorted() {
            guard let (component, precision) = ModelPrecision.parse(fileName: name) else { continue }
            let dataBytes = files.filter { $0.key.hasPrefix(name + "_data") || $0.key.hasPrefix(name + ".data") }.values.reduce(0, +)
            variants[component, default: []].append(ModelVariant(precision, bytes: (files[name] ?? 0) + dataBytes))
        }
        self.init(
            model: model,
            components: variants.keys.sorted().map {
                ModelComponent(name: $0, variants: variants[$0] ?? [], hasStaticShapes: staticShapeComponents.contains($0))
            }
        )
    }

    /// Lists the ONNX variants in a model directory.
    public init(model: String, scanning directory: URL, staticShapeComponents: Set<String> = []) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw VoxError.io("Cannot list the model directory \(directory.path): \(error.localizedDescription)", path: directory.path)
        }
        var files: [String: UInt64] = [:]
        for name in names {
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)
            files[name] = (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
        }
        self.init(model: model, files: files, staticShapeComponents: staticShapeComponents)
        if components.isEmpty {
            throw VoxError.modelNotFound(directory.appendingPathComponent("*.onnx").path)
        }
    }

    public func component(named name: String) -> ModelComponent? { components.first { $0.name == name } }
}

/// One ONNX graph of a model (Piper has one, Chatterbox four) and the variants of it on disk.
public struct ModelComponent: Sendable, Equatable, Codable {
    /// The graph's name, for example "language_model" or "vits".
    public var name: String
    public var variants: [ModelVariant]
    /// True when every run of this graph sees the same input shapes, the condition for capturing it
    /// once as a CUDA graph and replaying it. Piper/VITS never has static shapes (its length depends
    /// on the phonemes and on predicted durations).
    public var hasStaticShapes: Bool

    public init(name: String, variants: [ModelVariant], hasStaticShapes: Bool = false) {
        self.name = name
        self.variants = variants
        self.hasStaticShapes = hasStaticShapes
    }

    public init(name: String, precisions: [ModelPrecision], hasStaticShapes: Bool = false) {
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
