import Foundation
import Testing
import VoxAudio
import VoxCore
import VoxONNX
@testable import VoxEngines

/// Runs the real Chatterbox export when `VOXSERVE_CHATTERBOX_DIR` points at one (the files of
/// ResembleAI/chatterbox-turbo-ONNX, see docs/chatterbox.md). `VOXSERVE_CHATTERBOX_VARIANT` picks
/// a precision (fp32, fp16, q4, q4f16, quantized) for every graph that has it;
/// `VOXSERVE_CHATTERBOX_REFERENCE` a reference recording (else the export's default_voice.wav,
/// else a synthetic tone, which clones nothing but exercises the path).
@Suite struct ChatterboxRealModelTests {
    static let directory = ProcessInfo.processInfo.environment["VOXSERVE_CHATTERBOX_DIR"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }

    func engine() throws -> ChatterboxEngine {
        let dir = try #require(Self.directory)
        var files = try ChatterboxModelFiles(directory: dir)
        if let raw = ProcessInfo.processInfo.environment["VOXSERVE_CHATTERBOX_VARIANT"], let precision = ModelPrecision(rawValue: raw) {
            for component in ChatterboxModelFiles.components where files.variants(for: component).contains(precision) {
                try files.select(precision, for: component)
            }
        }
        var options = ChatterboxOptions()
        options.maxNewTokens = 400
        return try ChatterboxEngine(files: files, options: options, runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
    }

    func reference() throws -> VoiceReference {
        if let path = ProcessInfo.processInfo.environment["VOXSERVE_CHATTERBOX_REFERENCE"], !path.isEmpty {
            return try VoiceReference(contentsOf: URL(fileURLWithPath: path))
        }
        let bundled = try #require(Self.directory).appendingPathComponent("default_voice.wav")
        if FileManager.default.fileExists(atPath: bundled.path) { return try VoiceReference(contentsOf: bundled) }
        return try ChatterboxFixtures.reference(seconds: 8, frequency: 120, sampleRate: 24_000)
    }

    /// The model card's own loop and VoxServe choose the same greedy tokens on the real files
    /// (the first-run check the README lists). Turbo only: the script is Turbo's card loop.
    @Test(.enabled(if: directory != nil, "set VOXSERVE_CHATTERBOX_DIR to a Chatterbox ONNX export to run the real model"))
    func realModelGreedyTokensAreTheModelCardLoops() async throws {
        let engine = try engine()
        guard engine.layout.flavor == .turbo else { return }
        let tokens = try await ChatterboxFidelityTests.compareWithTheModelCardLoop(directory: try #require(Self.directory), maxNewTokens: 200)
        #expect(tokens.voxserve == tokens.reference)
    }

    @Test(.enabled(if: directory != nil, "set VOXSERVE_CHATTERBOX_DIR to a Chatterbox ONNX export to run the real model"))
    func realModelSpeaksAClonedSentenceAndReusesTheVoice() async throws {
        let engine = try engine()
        switch engine.layout.flavor {
        case .turbo: #expect(engine.layout.layerCount == 24)
        case .original: #expect(engine.layout.layerCount == 30)
        }
        #expect(engine.layout.kvHeads == 16 && engine.layout.headDim == 64)
        if engine.layout.flavor == .turbo {
            // The text, then exactly two placeholders (50256), whether or not tokenizer.json's template added them.
            let ids = ChatterboxGenerator.promptIDs(text: engine.textIDs(for: "Hello world"), flavor: .turbo, placeholder: 50256)
            #expect(ids == [15496, 995, 50256, 50256])
        }

        let voice = try reference()
        let request = SynthesisRequest(text: "Hello world, this is VoxServe speaking.", reference: voice, seed: 1)
        let audio = try await engine.synthesize(request)
        #expect(audio.sampleRate == 24_000)
        #expect(audio.isFinite)
        #expect(!audio.isSilent())
        #expect(audio.duration > 0.8 && audio.duration < 16)
        #expect(engine.speechEncoderRuns == 1)

        var chunks: [AudioChunk] = []
        for try await chunk in engine.stream(request) { chunks.append(chunk) }
        #expect(engine.speechEncoderRuns == 1)
        #expect(chunks.count >= 2)
        #expect(chunks.last?.isLast == true)
        let streamed = chunks.flatMap(\.audio.samples)
        #expect(streamed.count == audio.samples.count)
        if let out = ProcessInfo.processInfo.environment["VOXSERVE_CHATTERBOX_OUT"], !out.isEmpty {
            try AudioEncoder().write(audio, to: URL(fileURLWithPath: out))
        }
    }
}
