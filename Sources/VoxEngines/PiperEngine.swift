import Foundation
import Logging
import VoxAudio
import VoxCore
import VoxONNX

/// Piper (VITS) voices on ONNX Runtime, phonemized by espeak-ng.
public final class PiperEngine: SpeechSynthesizer, SessionPlacementReporting {
    /// Silence between sentences, in seconds.
    public static let sentenceSilence = 0.2

    public let voice: PiperVoice
    public let info: SynthesizerInfo
    public let session: ONNXSession
    private let phonemizer: any Phonemizer
    private let logger: Logger
    private let warnedPhonemes = Locked(Set<String>())
    /// Sentences synthesized at once; handed out in order.
    public let sentenceConcurrency: Int
    /// Where ONNX Runtime placed the graph's nodes (sessions built with `recordPlacement`).
    public var sessionPlacements: [String: SessionPlacement] {
        session.placement.map { ["piper_model": $0] } ?? [:]
    }
    /// A session with all of the plan's threads for a lone sentence while nothing else runs (a
    /// short request to an idle server), made on first use. Nil when not asked for.
    private let loneSession: LazySession?
    private let activeRuns = Locked(0)

    /// - Parameters:
    ///   - options: the plan's session options (all of its threads).
    ///   - sentenceConcurrency: sentences at once when a text has several. Above 1, the engine's
    ///     session runs each sentence with `parallelIntraOpThreads` threads.
    ///   - loneSentenceSession: with `sentenceConcurrency` above 1, also keep a session with all of
    ///     `options`' threads for a single sentence on an idle engine (right for a long-lived
    ///     server; a one-shot command would pay for loading it).
    public init(
        voice: PiperVoice, phonemizer: any Phonemizer, options: SessionOptions = SessionOptions(), runtime: ONNXRuntime,
        sentenceConcurrency: Int = 1, parallelIntraOpThreads: Int = 1, loneSentenceSession: Bool = false,
        logger: Logger = Logger(label: "vox.piper")
    ) throws {
        self.voice = voice
        self.sentenceConcurrency = max(1, sentenceConcurrency)
        var primary = options
        if sentenceConcurrency > 1 {
            primary.intraOpThreads = max(1, parallelIntraOpThreads)
        }
        if sentenceConcurrency > 1 && loneSentenceSession && options.intraOpThreads != primary.intraOpThreads {
            var lone = options
            // The primary session writes the optimized-model file; this one only reads models.
            lone.optimizedModelPath = nil
            self.loneSession = LazySession(modelPath: voice.modelURL.path, options: lone, runtime: runtime)
        } else {
            self.loneSession = nil
        }
        self.phonemizer = phonemizer
        self.logger = logger
        do {
            self.session = try ONNXSession(modelPath: voice.modelURL.path, options: primary, runtime: runtime)
        } catch let error as ONNXRuntimeError {
            throw error.voxError
        }
        for required in ["input", "input_lengths", "scales"] where session.input(named: required) == nil {
            throw VoxError.invalidModel("\(voice.modelURL.lastPathComponent) is not a Piper voice: it has no '\(required)' input.", path: voice.modelURL.path)
        }
        self.info = SynthesizerInfo(
            engine: "piper", voice: voice.name, sampleRate: voice.sampleRate, speakers: voice.numSpeakers,
            modelFingerprint: voice.fingerprint)
    }

    public func synthesize(_ request: SynthesisRequest) async throws -> AudioBuffer {
        var out = AudioBuffer(samples: [], sampleRate: voice.sampleRate)
        for try await chunk in stream(request) {
            out.append(chunk.audio)
        }
        return out
    }

    /// One chunk per sentence; each chunk after the first starts with the inter-sentence silence.
    public func stream(_ request: SynthesisRequest) -> AsyncThrowingStream<AudioChunk, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try request.validateParameters()
                    let sentences = try await self.phonemizer.sentencePhonemes(for: request.text, voice: self.voice.espeakVoice)
                    let spoken = sentences.filter { !$0.allSatisfy { $0.isWhitespace || $0.isPunctuation } }
                    guard !spoken.isEmpty else {
                        throw VoxError.invalidInput("The text has nothing speakable in it (only punctuation or symbols).")
                    }
                    // A window of sentences in flight; each is handed out as soon as it and all
                    // before it are done.
                    var inFlight: [Int: Task<AudioBuffer, Error>] = [:]
                    defer { inFlight.values.forEach { $0.cancel() } }
                    let session: ONNXSession
                    if spoken.count == 1, self.activeRuns.get() == 0, let lone = self.loneSession {
                        session = try await offload { try lone.get() }
                    } else {
                        session = self.session
                    }
                    func launch(_ i: Int) {
                        inFlight[i] = Task { try await self.synthesize(phonemes: spoken[i], request: request, session: session) }
                    }
                    for i in 0..<min(self.sentenceConcurrency, spoken.count) { launch(i) }
                    for i in spoken.indices {
                        try Task.checkCancellation()
                        var audio = try await inFlight.removeValue(forKey: i)!.value
                        if i + self.sentenceConcurrency < spoken.count { launch(i + self.sentenceConcurrency) }
                        if i > 0 {
                            let gap = Self.sentenceSilence / Double(request.speed) * Double(self.voice.sampleRate)
                            audio.samples.insert(contentsOf: [Float](repeating: 0, count: Int(gap)), at: 0)
                        }
                        continuation.yield(AudioChunk(audio: audio, index: i, text: spoken[i], isLast: i == spoken.count - 1))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Runs the model on one sentence's phonemes; returns peak-normalised audio.
    public func synthesize(phonemes: String, request: SynthesisRequest) async throws -> AudioBuffer {
        try await synthesize(phonemes: phonemes, request: request, session: session)
    }

    func synthesize(phonemes: String, request: SynthesisRequest, session: ONNXSession) async throws -> AudioBuffer {
        let (ids, missing) = voice.phonemeIDs(for: phonemes)
        for phoneme in missing where warnedPhonemes.withLock({ $0.insert(phoneme).inserted }) {
            logger.warning("phoneme not in the voice's map; skipped", metadata: ["vox.voice": "\(voice.name)", "vox.phoneme": "\(phoneme.unicodeScalars.map { String($0.value, radix: 16) })"])
        }
        let inference = voice.inference
        let lengthScale = request.lengthScale ?? inference.lengthScale
        var feeds: [String: Tensor] = [
            "input": Tensor(int64: ids, shape: [1, ids.count]),
            "input_lengths": Tensor(int64: [Int64(ids.count)], shape: [1]),
            "scales": Tensor(float32: [request.noiseScale ?? inference.noiseScale, lengthScale, request.noiseW ?? inference.noiseW], shape: [3]),
        ]
        if voice.numSpeakers > 1 {
            feeds["sid"] = Tensor(int64: [Int64(try voice.speakerID(request.speakerID))], shape: [1])
        } else if let s = request.speakerID, s != 0 {
            throw VoxError.invalidInput("Voice \(voice.name) has one speaker; speaker \(s) does not exist.")
        }
        let inputs = feeds
        let output: Tensor
        activeRuns.withLock { $0 += 1 }
        defer { activeRuns.withLock { $0 -= 1 } }
        do {
            output = try await offload { try session.run(inputs, outputNames: ["output"])["output"]! }
        } catch let error as ONNXRuntimeError {
            throw VoxError.engineFailure("Piper inference failed for voice \(voice.name): \(error.message)", detail: error.description)
        }
        // Piper's normalisation: peak at full scale, never amplified more than 100×, clamped to ±1.
        let audio = AudioBuffer(samples: output.floats(), sampleRate: voice.sampleRate).peakNormalized(to: 1, floor: 0.01, clipped: true)
        // `speed` stretches the spoken audio (pitch kept), so duration is exactly 1/speed: the
        // model's length scale does not scale duration in proportion (each phoneme lasts at least
        // a frame, pauses barely change), which gave 0.64 of the duration at speed 2.
        guard request.speed != 1 else { return audio }
        let speed = Double(request.speed)
        return try await offload { try TimeStretch.stretch(audio, by: 1 / speed) }
    }
}


/// A session made on first use, once, under a lock.
final class LazySession: Sendable {
    private let session = Locked<ONNXSession?>(nil)
    private let modelPath: String
    private let options: SessionOptions
    private let runtime: ONNXRuntime

    init(modelPath: String, options: SessionOptions, runtime: ONNXRuntime) {
        self.modelPath = modelPath
        self.options = options
        self.runtime = runtime
    }

    func get() throws -> ONNXSession {
        try session.withLock { session in
            if let session { return session }
            do {
                let made = try ONNXSession(modelPath: modelPath, options: options, runtime: runtime)
                session = made
                return made
            } catch let error as ONNXRuntimeError {
                throw error.voxError
            }
        }
    }
}
