import Foundation
import Logging
import VoxAudio
import VoxCore
import VoxONNX

/// Zero-shot voice cloning with Resemble AI's Chatterbox (Turbo, or the original model) exported to
/// ONNX: a reference recording becomes the voice (speech_encoder, through the conditioning store so
/// a voice is encoded once), the text becomes speech tokens (embed_tokens + language_model with a
/// KV cache + sampling), and the tokens become 24 kHz audio (conditional_decoder).
///
/// Outputs carry no Perth watermark: upstream Chatterbox adds one with a neural network that
/// VoxServe cannot run.
public final class ChatterboxEngine: SpeechSynthesizer, SessionPlacementReporting {
    public static let sampleRate = 24_000
    public static let engineID = "chatterbox"
    /// The language both exports (original and Turbo) speak: their tokenizers and text
    /// normalisation are English.
    public static let language = "en"
    /// Token the decoder renders as silence; three end every utterance (Turbo).
    public static let silenceToken = 4299

    public let files: ChatterboxModelFiles
    public let layout: ChatterboxModelLayout
    public let options: ChatterboxOptions
    public let tokenizer: BPETokenizer
    public let info: SynthesizerInfo
    let speechEncoder: ONNXSession
    let embedTokens: ONNXSession
    let languageModel: ONNXSession
    let conditionalDecoder: ONNXSession
    let conditioningStore: any SpeakerConditioningStore
    /// Identifies the speech encoder's file: conditioning made by another encoder is not reused.
    let conditioningFingerprint: String
    let logger: Logger
    /// Decodes concurrent sentences together when `options.maxBatch` > 1; nil generates each alone.
    let batcher: ChatterboxBatcher?
    /// The voices' conditioning positions already run by the language model; nil when
    /// `options.prefixCacheBytes` is 0.
    let prefixCache: ChatterboxPrefixCache?
    /// Orders the streams' decoder calls when `options.decoderConcurrency` > 0.
    let decoderGate: DecoderGate?
    /// Copies KV-cache positions on the language model's device, with IO binding (nil without).
    let kvGatherer: KVCacheGatherer?
    private let encoderRuns = Locked(0)

    /// Loads the export in `modelDirectory` (see `ChatterboxModelFiles`) with the precision variants
    /// in `variants` (others: fp32 when present, else the first found).
    public convenience init(
        modelDirectory: URL, variants: [ModelComponentID: ModelPrecision] = [:], options: ChatterboxOptions = ChatterboxOptions(),
        sessionOptions: SessionOptions = SessionOptions(), runtime: ONNXRuntime, conditioningStore: (any SpeakerConditioningStore)? = nil,
        logger: Logger = Logger(label: "vox.chatterbox")
    ) throws {
        let files = try ChatterboxModelFiles(directory: modelDirectory).selecting(variants)
        try self.init(
            files: files, options: options, sessionOptions: sessionOptions, runtime: runtime, conditioningStore: conditioningStore, logger: logger)
    }

    /// `sessionOptions` apply to every graph except those named in `componentSessionOptions`
    /// (an execution plan may, for example, capture CUDA graphs for one graph only).
    public init(
        files: ChatterboxModelFiles, options: ChatterboxOptions = ChatterboxOptions(), sessionOptions: SessionOptions = SessionOptions(),
        componentSessionOptions: [ModelComponentID: SessionOptions] = [:],
        runtime: ONNXRuntime, conditioningStore: (any SpeakerConditioningStore)? = nil, logger: Logger = Logger(label: "vox.chatterbox")
    ) throws {
        self.files = files
        self.options = options
        self.logger = logger
        self.conditioningStore = conditioningStore ?? MemorySpeakerConditioningStore()
        // The decode loop feeds a KV cache that grows by one position per step: a captured CUDA graph
        // would replay the first step's shapes and buffers. Refused here, whatever the caller asks.
        if (componentSessionOptions[.languageModel] ?? sessionOptions).cudaGraph {
            throw VoxError(.unsupported, "CUDA graphs cannot run the Chatterbox language model: its KV cache grows every step, and a captured graph needs fixed shapes and the same buffers on every replay.", detail: "enable_cuda_graph on language_model")
        }
        func load(_ component: ModelComponentID) throws -> ONNXSession {
            let url = files.url(for: component)
            do {
                return try ONNXSession(modelPath: url.path, options: componentSessionOptions[component] ?? sessionOptions, runtime: runtime)
            } catch let error as ONNXRuntimeError {
                let hint = error.message.contains("onnx_data") || error.message.contains("external")
                    ? " Keep \(url.lastPathComponent)_data beside it." : ""
                let base = error.voxError
                throw VoxError(base.kind, "Cannot load \(url.lastPathComponent): \(error.message).\(hint)", detail: url.path)
            }
        }
        speechEncoder = try load(.speechEncoder)
        embedTokens = try load(.embedTokens)
        languageModel = try load(.languageModel)
        conditionalDecoder = try load(.conditionalDecoder)
        layout = try ChatterboxModelLayout(
            speechEncoder: (speechEncoder.inputs, speechEncoder.outputs),
            embedTokens: (embedTokens.inputs, embedTokens.outputs),
            languageModel: (languageModel.inputs, languageModel.outputs),
            conditionalDecoder: (conditionalDecoder.inputs, conditionalDecoder.outputs))
        let gate = options.decoderConcurrency > 0 ? DecoderGate(width: options.decoderConcurrency) : nil
        decoderGate = gate
        var holdWhile: (@Sendable () -> Bool)?
        if let gate { holdWhile = { gate.firstChunksPending } }
        // With IO binding the cache stays on the language model's device, so its positions are copied
        // there too: the batch's repacks and the voices' cached prefixes.
        let gatherer = options.ioBinding
            ? KVCacheGatherer(
                languageModel: languageModel, device: LanguageModelRunner.device(of: languageModel))
            : nil
        kvGatherer = gatherer
        batcher = options.maxBatch > 1
            ? ChatterboxBatcher(
                languageModel: languageModel, layout: layout, maxBatch: options.maxBatch, prefillChunk: options.prefillChunkPositions,
                ioBinding: options.ioBinding, gatherer: gatherer, holdWhile: holdWhile)
            : nil
        prefixCache = options.prefixCacheBytes > 0 ? ChatterboxPrefixCache(capacityBytes: options.prefixCacheBytes) : nil
        tokenizer = try BPETokenizer(directory: files.directory)
        conditioningFingerprint = files.fingerprint(of: .speechEncoder)
        info = SynthesizerInfo(
            engine: Self.engineID, voice: layout.flavor == .turbo ? "chatterbox-turbo" : "chatterbox",
            sampleRate: Self.sampleRate, speakers: 1, modelFingerprint: files.fingerprint)
        logger.debug("chatterbox loaded", metadata: [
            "vox.engine": "\(Self.engineID)", "vox.flavor": "\(layout.flavor.rawValue)", "vox.layers": "\(layout.layerCount)",
            "vox.variants": "\(ChatterboxModelFiles.components.map { "\($0.rawValue)=\(files.selection[$0]!.rawValue)" }.joined(separator: ","))",
        ])
    }

    /// Where ONNX Runtime placed each graph's nodes (sessions built with `recordPlacement`).
    public var sessionPlacements: [String: SessionPlacement] {
        var result: [String: SessionPlacement] = [:]
        for (component, session) in [(ModelComponentID.speechEncoder, speechEncoder), (.embedTokens, embedTokens), (.languageModel, languageModel), (.conditionalDecoder, conditionalDecoder)] {
            if let placement = session.placement { result[component.rawValue] = placement }
        }
        return result
    }

    /// Runs every graph once on made-up input, so that the first request does not pay for ONNX
    /// Runtime's first-run allocations and, on CUDA, kernel selection and cuDNN/cuBLAS start-up:
    /// the speech encoder on 6 s of a synthetic voice-like signal (the result is not stored), the
    /// language model for `steps` tokens, the decoder on them. Returns the samples decoded.
    @discardableResult
    public func warmUp(steps: Int = 8) async throws -> Int {
        let seconds = max(6, options.referenceMinDuration + 1)
        let samples = Self.warmUpSignal(seconds: seconds, sampleRate: Self.sampleRate)
        let input = try Tensor(floats: samples, shape: [1, samples.count], type: layout.encoderAudioType)
        let encoder = speechEncoder
        let names = layout.encoderOutputNames
        let raw: [String: Tensor]
        do {
            raw = try await offload { try encoder.run(["audio_values": input], outputNames: names) }
        } catch let error as ONNXRuntimeError {
            throw VoxError.engineFailure("The Chatterbox speech encoder failed at warm-up: \(error.message)", detail: error.description)
        }
        var outputs: [String: Tensor] = [:]
        for (standard, name) in zip(ChatterboxConditioning.outputNames, names) { outputs[standard] = raw[name] }
        let conditioning = try ChatterboxConditioning(tensors: outputs)
        let generator = try makeGenerator(sentence: "Hello, this is a warm-up.", conditioning: conditioning, seed: 1, maxNewTokens: max(1, steps))
        let limit = generator.maxNewTokens
        _ = try await offload { try generator.run(atMost: limit) }
        let tokens = generator.tokens
        return try await offload { try self.decode(tokens: tokens, conditioning: conditioning, final: true) }.count
    }

    /// A voiced, deterministic signal: a 140 Hz harmonic series with a slow amplitude envelope.
    public static func warmUpSignal(seconds: Double, sampleRate: Int) -> [Float] {
        let count = Int(seconds * Double(sampleRate))
        return (0..<count).map { i in
            let t = Double(i) / Double(sampleRate)
            let envelope = 0.5 + 0.5 * sin(2 * .pi * 3 * t)
            let voice = (1...5).reduce(0.0) { sum, h in sum + sin(2 * .pi * 140 * Double(h) * t) / Double(h) }
            return Float(0.1 * envelope * voice)
        }
    }

    /// How many times the speech encoder has run (a voice served from the store does not count).
    public var speechEncoderRuns: Int { encoderRuns.get() }

    func countEncoderRun() { encoderRuns.withLock { $0 += 1 } }

    // MARK: SpeechSynthesizer

    public func synthesize(_ request: SynthesisRequest) async throws -> AudioBuffer {
        let (sentences, conditioning, _, seed) = try await prepare(request)
        var out = AudioBuffer(samples: [], sampleRate: Self.sampleRate)
        for (i, sentence) in sentences.enumerated() {
            try Task.checkCancellation()
            let generator = try makeGenerator(sentence: sentence, conditioning: conditioning, seed: SeededGenerator.derive(seed, index: i))
            let source = tokenSource(generator)
            defer { source.cancel() }
            let (tokens, _) = try await source.tokens(atLeast: generator.maxNewTokens)
            let samples = try await offload { try self.decode(tokens: tokens, conditioning: conditioning, final: true) }
            out.samples += samples
        }
        guard request.speed != 1 else { return out }
        let (audio, ratio) = (out, 1 / Double(request.speed))
        return try await offload { try TimeStretch.stretch(audio, by: ratio) }
    }

    /// Sentences to speak, the voice, where the voice came from and the seed for a request.
    func prepare(_ request: SynthesisRequest) async throws -> ([String], ChatterboxConditioning, ConditioningCacheOutcome, UInt64) {
        try request.validateParameters()
        guard let reference = request.reference ?? defaultReference() else {
            throw VoxError.invalidInput(
                "Chatterbox clones a voice from a recording: pass a reference of more than \(Int(options.referenceMinDuration)) seconds (--reference FILE).")
        }
        let sentences = TextSegmenter(maxSentenceLength: options.maxSentenceCharacters).sentences(request.text)
            .map(normalized)
            .filter { sentence in sentence.unicodeScalars.contains { $0.properties.isAlphabetic || $0.properties.numericType != nil } }
        guard !sentences.isEmpty else {
            throw VoxError.invalidInput("The text has nothing speakable in it (only punctuation or symbols).")
        }
        let (conditioning, outcome) = try await conditioningAndOutcome(for: reference)
        var system = SystemRandomNumberGenerator()
        return (sentences, conditioning, outcome, request.seed ?? system.next())
    }

    /// `sentence` cleaned as the loaded model's own `punc_norm` does (unless `normalizeText` is off).
    func normalized(_ sentence: String) -> String {
        options.normalizeText ? ChatterboxTextNormalizer.normalize(sentence, flavor: layout.flavor) : sentence
    }

    /// `default_voice.wav` in the model folder, when the export ships one.
    func defaultReference() -> VoiceReference? {
        let url = files.directory.appendingPathComponent("default_voice.wav")
        return try? VoiceReference(contentsOf: url)
    }
}
