import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxEngines

/// The default voice installed by setup; these tests always run (setup is part of `make test`).
func defaultVoice() throws -> PiperVoice {
    let installed = VoiceCatalog(paths: .fromEnvironment(ProcessInfo.processInfo.environment)).voices()
    guard let voice = installed.first(where: { $0.voice.name == VoiceCatalog.defaultVoice })?.voice else {
        throw VoxError.unknownVoice(VoiceCatalog.defaultVoice, known: installed.map(\.voice.name))
    }
    return voice
}

/// Phonemes given directly, so these tests pin the engine without espeak-ng.
struct FixedPhonemizer: Phonemizer {
    var sentences: [String]
    func sentencePhonemes(for text: String, voice: String) async throws -> [String] { sentences }
}

// "Hello world. How are you?" as espeak-ng en-us phonemizes it for piper.
private let hello = ["həlˈoʊ wˈɜːld.", "hˈaʊ ɑːɹ juː?"]

@Suite struct PiperEngineTests {
    func engine(_ sentences: [String] = hello) throws -> PiperEngine {
        try PiperEngine(voice: try defaultVoice(), phonemizer: FixedPhonemizer(sentences: sentences), runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
    }

    @Test func speaksFiniteAudibleAudioAtTheVoicesRate() async throws {
        let audio = try await engine().synthesize(SynthesisRequest(text: "Hello world. How are you?"))
        #expect(audio.sampleRate == 22050)
        #expect(audio.isFinite)
        #expect(!audio.isSilent())
        #expect(audio.duration > 0.8 && audio.duration < 5)
        // piper's peak normalisation: full scale
        #expect(abs(audio.peak - 1) < 1e-3)
    }

    @Test func theEngineLeavesTheTextLengthLimitToTheCaller() async throws {
        // A server configured for 20,000 characters checks that limit itself; the engine must not
        // refuse at the library's default of 10,000 (it did).
        let long = String(repeating: "word ", count: 2_500)
        #expect(long.count > SynthesisRequest.maxTextLength)
        let audio = try await engine().synthesize(SynthesisRequest(text: long))
        #expect(audio.duration > 0.8)
        let empty = await #expect(throws: VoxError.self) { try await engine().synthesize(SynthesisRequest(text: "  ")) }
        #expect(empty?.kind == .invalidInput)
    }

    @Test func durationGrowsWithLengthScale() async throws {
        let e = try engine([hello[0]])
        let fast = try await e.synthesize(SynthesisRequest(text: "x", lengthScale: 0.7))
        let normal = try await e.synthesize(SynthesisRequest(text: "x", lengthScale: 1.0))
        let slow = try await e.synthesize(SynthesisRequest(text: "x", lengthScale: 1.6))
        #expect(fast.duration < normal.duration)
        #expect(normal.duration < slow.duration)
        #expect(slow.duration / normal.duration > 1.3)
    }

    @Test func speedDividesTheLengthScale() async throws {
        let e = try engine([hello[0]])
        let normal = try await e.synthesize(SynthesisRequest(text: "x", noiseW: 0))
        let double = try await e.synthesize(SynthesisRequest(text: "x", noiseW: 0, speed: 2))
        #expect(double.duration < normal.duration * 0.7)
    }

    @Test func sentencesAreJoinedWithTwoTenthsOfASecondOfSilence() async throws {
        let e = try engine()
        var chunks: [AudioChunk] = []
        for try await chunk in e.stream(SynthesisRequest(text: "x")) { chunks.append(chunk) }
        #expect(chunks.count == 2)
        #expect(chunks.map(\.isLast) == [false, true])
        let gap = Int(0.2 * 22050)
        #expect(chunks[1].audio.samples.prefix(gap).allSatisfy { $0 == 0 })
        #expect(chunks[0].audio.samples.first { $0 != 0 } != nil)
    }

    @Test func emptyTextIsAClearError() async throws {
        let error = await #expect(throws: VoxError.self) { _ = try await engine().synthesize(SynthesisRequest(text: "  \n ")) }
        #expect(error?.kind == .invalidInput)
        #expect(error?.message.contains("empty") == true)
    }

    @Test func aNonPiperModelIsRejectedWhenLoaded() throws {
        let deps = try #require(VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("notpiper-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let model = dir.appendingPathComponent("basic.onnx")
        try FileManager.default.copyItem(at: deps.appendingPathComponent("test-models/basic_ops.onnx"), to: model)
        try FileManager.default.copyItem(at: try defaultVoice().configURL, to: URL(fileURLWithPath: model.path + ".json"))
        let error = #expect(throws: VoxError.self) {
            _ = try PiperEngine(voice: try PiperVoice.load(modelURL: model), phonemizer: FixedPhonemizer(sentences: []), runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        }
        #expect(error?.kind == .invalidModel)
    }
}

@Suite struct PiperSentenceConcurrencyTests {
    static let sentences = ["həlˈoʊ wˈɜːld.", "hˈaʊ ɑːɹ juː?", "ðɪs ɪz ðə θˈɜːd sˈɛntəns.", "ænd ðə fˈɔːɹθ!", "fˈaɪv."]

    func chunks(concurrency: Int) async throws -> [AudioChunk] {
        let engine = try PiperEngine(
            voice: try defaultVoice(), phonemizer: FixedPhonemizer(sentences: Self.sentences),
            options: SessionOptions(intraOpThreads: 1), runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)), sentenceConcurrency: concurrency)
        var out: [AudioChunk] = []
        // No noise: the model is deterministic, so any difference would come from the scheduling.
        for try await chunk in engine.stream(SynthesisRequest(text: "x", noiseScale: 0, noiseW: 0)) { out.append(chunk) }
        return out
    }

    @Test func parallelSentencesArriveInOrderWithTheSameAudio() async throws {
        let serial = try await chunks(concurrency: 1)
        let parallel = try await chunks(concurrency: 3)
        #expect(parallel.map(\.index) == [0, 1, 2, 3, 4])
        #expect(parallel.map(\.text) == Self.sentences)
        #expect(parallel.map(\.isLast) == [false, false, false, false, true])
        #expect(parallel.map(\.audio.samples.count) == serial.map(\.audio.samples.count))
        for (a, b) in zip(serial, parallel) {
            let diff = zip(a.audio.samples, b.audio.samples).map { abs($0 - $1) }.max() ?? 0
            #expect(diff < 1e-3, "sentence \(a.index) differs by \(diff)")
        }
    }
}
