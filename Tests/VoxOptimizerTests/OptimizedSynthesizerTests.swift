import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxOptimizer

/// What a test engine does.
enum TestBehavior: Sendable {
    /// Building the engine fails (the factory throws).
    case unloadable
    /// A 440 Hz tone, 0.1 s per chunk; streams two chunks.
    case tone
    case nan
    case silent
    case failing(VoxError)
    /// Streams one good chunk, then throws an engine failure.
    case failAfterFirstChunk
    /// Works for 10 s before its first chunk; cancelled earlier, it ends without audio or error,
    /// as an engine stopped half-way does.
    case slow
}

/// An engine that behaves as told, for exercising fallback without ONNX Runtime.
struct TestEngine: SpeechSynthesizer {
    let info: SynthesizerInfo
    let behavior: TestBehavior

    init(name: String, behavior: TestBehavior) {
        self.info = SynthesizerInfo(engine: "test", voice: name, sampleRate: 16_000)
        self.behavior = behavior
    }

    static func tone(count: Int = 1_600) -> AudioBuffer {
        AudioBuffer(samples: (0..<count).map { 0.5 * sin(2 * .pi * 440 * Float($0) / 16_000) }, sampleRate: 16_000)
    }

    func synthesize(_ request: SynthesisRequest) async throws -> AudioBuffer {
        switch behavior {
        case .tone, .failAfterFirstChunk, .unloadable, .slow: return Self.tone()
        case .nan: return AudioBuffer(samples: Self.tone().samples.enumerated().map { $0.offset == 800 ? .nan : $0.element }, sampleRate: 16_000)
        case .silent: return AudioBuffer(samples: [Float](repeating: 0, count: 1_600), sampleRate: 16_000)
        case .failing(let error): throw error
        }
    }

    func stream(_ request: SynthesisRequest) -> AsyncThrowingStream<AudioChunk, Error> {
        let behavior = self.behavior
        return AsyncThrowingStream { continuation in
            switch behavior {
            case .tone, .unloadable:
                continuation.yield(AudioChunk(audio: Self.tone(), index: 0, isLast: false))
                continuation.yield(AudioChunk(audio: Self.tone(count: 800), index: 1, isLast: true))
                continuation.finish()
            case .failAfterFirstChunk:
                continuation.yield(AudioChunk(audio: Self.tone(), index: 0, isLast: false))
                continuation.finish(throwing: VoxError.engineFailure("CUDA error: an illegal memory access was encountered"))
            case .nan:
                continuation.yield(AudioChunk(audio: AudioBuffer(samples: [0.1, .infinity], sampleRate: 16_000), index: 0, isLast: true))
                continuation.finish()
            case .silent:
                continuation.yield(AudioChunk(audio: .silence(seconds: 0.1, sampleRate: 16_000), index: 0, isLast: true))
                continuation.finish()
            case .failing(let error):
                continuation.finish(throwing: error)
            case .slow:
                let work = Task {
                    try? await Task.sleep(for: .seconds(10))
                    if !Task.isCancelled { continuation.yield(AudioChunk(audio: Self.tone(), index: 0, isLast: true)) }
                    continuation.finish()
                }
                continuation.onTermination = { _ in work.cancel() }
            }
        }
    }
}

/// Counts engine builds per plan entry.
actor BuildLog {
    private(set) var builds: [Int] = []
    func record(_ index: Int) { builds.append(index) }
}

@Suite struct OptimizedSynthesizerTests {
    /// The RTX 4090 plan for Chatterbox: cuda fp16, cuda fp32, cpu int8, cpu q4, cpu fp32.
    let plan: ExecutionPlan

    init() throws {
        let hardware = Fixtures.machine(cpu: Fixtures.ryzen7950X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24)])
        plan = try ExecutionPlanner().plan(hardware: hardware, inventory: Fixtures.chatterbox)
    }

    /// A synthesizer whose engine for entry i behaves as `behaviors[i]` (tone when absent).
    func synthesizer(_ behaviors: [Int: TestBehavior], log: BuildLog = BuildLog()) -> OptimizedSynthesizer {
        let plan = self.plan
        return OptimizedSynthesizer(plan: plan) { entry in
            let index = try #require(plan.entries.firstIndex(of: entry))
            await log.record(index)
            let behavior = behaviors[index] ?? .tone
            if case .unloadable = behavior {
                throw VoxError.engineFailure("CUDA provider could not be loaded: libcudnn.so.9: cannot open shared object file")
            }
            return TestEngine(name: entry.label, behavior: behavior)
        }
    }

    @Test("a request cancelled before its first audio (a timeout, a client gone) does not retire its plan entry")
    func cancellationIsNoFailure() async throws {
        let synthesizer = synthesizer([0: .slow])
        let consumer = Task {
            for try await _ in synthesizer.stream(SynthesisRequest(text: "Cut short.")) {}
        }
        try await Task.sleep(for: .milliseconds(200))
        consumer.cancel()
        _ = await consumer.result
        let report = await synthesizer.report
        #expect(report.fallbacks.isEmpty, "\(report.fallbacks)")
        #expect(report.activeEntryIndex == 0)
    }

    @Test("an engine that fails to load on the first entry ends on the second, with the reason reported")
    func loadFailure() async throws {
        let log = BuildLog()
        let synthesizer = synthesizer([0: .unloadable], log: log)
        #expect(synthesizer.info.engine == "pending" && synthesizer.info.sampleRate == 0)
        let report = try await synthesizer.prepare()
        #expect(report.activeEntryIndex == 1)
        #expect(report.activeEntry?.label == "cuda:0 fp32")
        #expect(report.engineLoaded)
        let event = try #require(report.fallbacks.first)
        #expect(report.fallbacks.count == 1)
        #expect(event.entryIndex == 0 && event.entryLabel == "cuda:0 fp16" && event.stage == .load)
        #expect(event.reason.contains("libcudnn.so.9"))
        #expect((report.warmUpSeconds ?? -1) > 0)
        #expect(synthesizer.info.voice == "cuda:0 fp32")
        #expect(synthesizer.info.sampleRate == 16_000)

        let audio = try await synthesizer.synthesize(SynthesisRequest(text: "Hello there."))
        #expect(audio == TestEngine.tone())
        #expect(await log.builds == [0, 1])
    }

    @Test("NaN samples move to the next entry and the request is retried there")
    func nanOutput() async throws {
        let synthesizer = synthesizer([0: .nan])
        let audio = try await synthesizer.synthesize(SynthesisRequest(text: "Hello."))
        #expect(audio.isFinite && !audio.isSilent())
        let report = await synthesizer.report
        #expect(report.activeEntryIndex == 1)
        #expect(report.fallbacks.map(\.stage) == [.synthesis])
        #expect(report.fallbacks.first?.reason == "the audio has 1 non-finite sample (NaN or infinity) of 1600")
        #expect(report.warmUpSeconds == nil)
    }

    @Test("silent output moves to the next entry with the reason")
    func silentOutput() async throws {
        let synthesizer = synthesizer([0: .silent, 1: .silent])
        try await synthesizer.prepare()
        let report = await synthesizer.report
        #expect(report.activeEntry?.label == "cpu int8")
        #expect(report.fallbacks.map(\.entryIndex) == [0, 1])
        #expect(report.fallbacks.allSatisfy { $0.stage == .warmUp && $0.reason == "the audio is silent (peak 0.0)" })
    }

    @Test("when every entry fails, the error says so and names the last reason")
    func allEntriesFail() async throws {
        let failure = TestBehavior.failing(VoxError.engineFailure("ONNX Runtime: Non-zero status code returned while running Conv node"))
        let synthesizer = synthesizer([0: .unloadable, 1: .nan, 2: .silent, 3: failure, 4: failure])
        await #expect {
            try await synthesizer.prepare()
        } throws: { error in
            guard let vox = error as? VoxError else { return false }
            return vox.kind == .engineFailure
                && vox.message.hasPrefix("Every way to run chatterbox-turbo failed (5 plan entries); the last, cpu fp32, failed because ONNX Runtime: Non-zero status")
                && vox.detail?.contains("#0 cuda:0 fp16 (load)") == true && vox.detail?.contains("#2 cpu int8 (warm_up): the audio is silent") == true
        }
        let report = await synthesizer.report
        #expect(report.exhausted && report.activeEntry == nil)
        #expect(report.fallbacks.map(\.entryIndex) == [0, 1, 2, 3, 4])
        // Later requests fail at once with the same explanation.
        await #expect(throws: VoxError.self) { try await synthesizer.synthesize(SynthesisRequest(text: "Again.")) }
    }

    @Test("errors about the request itself go back to the caller without a fallback")
    func requestErrorsDoNotFallBack() async throws {
        let synthesizer = synthesizer([0: .failing(VoxError.unknownVoice("nobody"))])
        await #expect(throws: VoxError.unknownVoice("nobody")) { try await synthesizer.synthesize(SynthesisRequest(text: "Hi.")) }
        let report = await synthesizer.report
        #expect(report.fallbacks.isEmpty && report.activeEntryIndex == 0)
    }

    @Test("concurrent first requests build the engine once")
    func engineBuiltOnce() async throws {
        let log = BuildLog()
        let synthesizer = synthesizer([:], log: log)
        try await withThrowingTaskGroup(of: AudioBuffer.self) { group in
            for i in 0..<8 { group.addTask { try await synthesizer.synthesize(SynthesisRequest(text: "Request \(i).")) } }
            for try await audio in group { #expect(audio == TestEngine.tone()) }
        }
        #expect(await log.builds == [0])
    }

    @Test("a stream whose first chunk is non-finite restarts on the next entry")
    func streamFallsBackBeforeFirstChunk() async throws {
        let synthesizer = synthesizer([0: .nan])
        var chunks: [AudioChunk] = []
        for try await chunk in synthesizer.stream(SynthesisRequest(text: "Hello. World.")) { chunks.append(chunk) }
        #expect(chunks.map(\.index) == [0, 1])
        #expect(chunks.map(\.audio.samples.count) == [1_600, 800])
        let report = await synthesizer.report
        #expect(report.fallbacks.map(\.stage) == [.stream])
        #expect(report.activeEntryIndex == 1)
    }

    @Test("a stream that fails after its first chunk ends with the error, and the next request uses the next entry")
    func streamFailsAfterFirstChunk() async throws {
        let synthesizer = synthesizer([0: .failAfterFirstChunk])
        var received = 0
        await #expect(throws: VoxError.self) {
            for try await _ in synthesizer.stream(SynthesisRequest(text: "Hello. World.")) { received += 1 }
        }
        #expect(received == 1)
        var report = await synthesizer.report
        #expect(report.activeEntryIndex == 1)
        #expect(report.fallbacks.first?.reason == "CUDA error: an illegal memory access was encountered")
        var chunks = 0
        for try await _ in synthesizer.stream(SynthesisRequest(text: "Again.")) { chunks += 1 }
        #expect(chunks == 2)
        report = await synthesizer.report
        #expect(report.fallbacks.count == 1)
    }

    @Test("the report survives JSON")
    func reportCodable() async throws {
        let synthesizer = synthesizer([0: .unloadable])
        let report = try await synthesizer.prepare()
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let decoded = try decoder.decode(OptimizationReport.self, from: encoder.encode(report))
        #expect(decoded.plan == report.plan)
        #expect(decoded.fallbacks.map(\.reason) == report.fallbacks.map(\.reason))
        #expect(decoded.activeEntryIndex == 1 && decoded.warmUpSeconds == report.warmUpSeconds)
    }

    @Test("fallback policy: engine errors fall back, request errors and cancellation do not")
    func fallbackPolicy() {
        #expect(FallbackPolicy.isEngineFailure(VoxError.engineFailure("x")))
        #expect(FallbackPolicy.isEngineFailure(VoxError.modelNotFound("/m/language_model_fp16.onnx")))
        #expect(FallbackPolicy.isEngineFailure(CocoaError(.fileReadCorruptFile)))
        #expect(!FallbackPolicy.isEngineFailure(VoxError.invalidInput("empty")))
        #expect(!FallbackPolicy.isEngineFailure(VoxError.invalidAudio("too short")))
        #expect(!FallbackPolicy.isEngineFailure(CancellationError()))
        #expect(FallbackPolicy.problem(with: TestEngine.tone()) == nil)
        #expect(FallbackPolicy.problem(with: AudioBuffer(samples: [], sampleRate: 16_000)) == "the audio is empty")
    }
}
