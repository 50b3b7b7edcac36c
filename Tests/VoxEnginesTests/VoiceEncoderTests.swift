import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxEngines

@Suite("VoiceEncoder")
struct VoiceEncoderTests {
    struct Clip: Sendable, CustomTestStringConvertible {
        var voice: String
        var text: String
        var testDescription: String { voice }
    }

    static let firstSentence = "The quick brown fox jumps over the lazy dog while the evening sun sets behind the hills."
    static let secondSentence = "Please call Stella and ask her to bring these things with her from the store."

    static let clips = [
        Clip(voice: "en-us", text: firstSentence),
        Clip(voice: "en-gb+f3", text: secondSentence),
        Clip(voice: "de", text: "Der Wind weht kalt über das Meer, und die Fischer kehren langsam in den Hafen zurück."),
    ]

    @Test("the embedding agrees with the numpy reference (cosine ≥ 0.999)", arguments: clips)
    func agreesWithNumpyReference(_ clip: Clip) throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let audio = try fixtures.clip("clip", voice: clip.voice, text: clip.text)
        let encoder = try VoiceEncoder(contentsOf: fixtures.weights)
        let embedding = try encoder.embed(audio.samples)
        let reference = try fixtures.reference(audio.url)
        #expect(reference.samples == audio.samples.count)
        #expect(try encoder.partialEmbeddings(audio.samples).count == reference.partials)
        #expect(embedding.count == 256)
        #expect(VoiceEncoder.cosine(embedding, reference.embedding) >= 0.999)
        // float32 against float64: in practice the values agree to about 1e-7.
        #expect(zip(embedding, reference.embedding).map { abs($0 - $1) }.max()! < 1e-4)
    }

    @Test("Chatterbox's front end, with weights from a safetensors file, agrees with the reference's Chatterbox variant")
    func chatterboxConfigurationAgreesWithReference() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let audio = try fixtures.clip("clip", voice: "en-us+m3", text: Self.secondSentence)
        let weights = try fixtures.exportSafetensors(dtype: "F32", names: "chatterbox")
        let encoder = try VoiceEncoder(contentsOf: weights, configuration: .chatterbox)
        let embedding = try encoder.embed(audio.samples)
        let reference = try fixtures.reference(audio.url, variant: "chatterbox")
        #expect(try encoder.partialEmbeddings(audio.samples).count == reference.partials)
        #expect(VoiceEncoder.cosine(embedding, reference.embedding) >= 0.999)
        // The filterbank matters: the HTK bank without normalisation (what VoxServe used before
        // reading melspec.py) gives another embedding.
        var htk = VoiceEncoderConfiguration.chatterbox
        htk.melScale = .htk
        htk.melNormalization = .none
        let wrong = try VoiceEncoder(contentsOf: weights, configuration: htk).embed(audio.samples)
        #expect(VoiceEncoder.cosine(wrong, reference.embedding) < 0.99)
    }

    @Test("safetensors weights give the embedding of the .pt weights (F32 exactly, F16 closely)")
    func safetensorsAndTorchWeightsAgree() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let audio = try fixtures.clip("clip", voice: "en-us", text: Self.firstSentence)
        let fromTorch = try VoiceEncoder(contentsOf: fixtures.weights).embed(audio.samples)
        let f32 = try VoiceEncoder(contentsOf: fixtures.exportSafetensors(dtype: "F32", names: "resemblyzer")).embed(audio.samples)
        let f16 = try VoiceEncoder(contentsOf: fixtures.exportSafetensors(dtype: "F16", names: "chatterbox")).embed(audio.samples)
        #expect(f32 == fromTorch)
        #expect(f16 != fromTorch)
        #expect(VoiceEncoder.cosine(f16, fromTorch) >= 0.999)
    }

    @Test("embeddings and partial embeddings are unit length and non-negative")
    func embeddingsAreUnitLength() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let audio = try fixtures.clip("clip", voice: "en-gb+f3", text: Self.firstSentence)
        let encoder = try VoiceEncoder(contentsOf: fixtures.weights)
        let embedding = try encoder.embed(audio.samples)
        #expect(abs(EncoderFixtures.norm(embedding) - 1) < 1e-5)
        #expect(embedding.allSatisfy { $0 >= 0 })
        let partials = try encoder.partialEmbeddings(audio.samples)
        #expect(partials.count > 1)
        for partial in partials {
            #expect(abs(EncoderFixtures.norm(partial) - 1) < 1e-5)
        }
        // The embedding is the normalised mean of the partials, not any single one.
        #expect(partials.allSatisfy { VoiceEncoder.cosine($0, embedding) < 0.99999 })
    }

    @Test("a clip shorter than one partial is zero-padded to one partial, as Resemblyzer does")
    func shortClipIsPadded() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let audio = try fixtures.clip("clip", voice: "en-us", text: "Hello there.")
        let short = Array(audio.samples.prefix(8000))  // 0.5 s; a partial is 1.6 s
        let url = try fixtures.write("short", short)
        let encoder = try VoiceEncoder(contentsOf: fixtures.weights)
        #expect(try encoder.partialEmbeddings(short).count == 1)
        let reference = try fixtures.reference(url)
        #expect(reference.partials == 1)
        #expect(VoiceEncoder.cosine(try encoder.embed(short), reference.embedding) >= 0.999)
    }

    @Test("two sentences of one espeak voice are closer to each other than to another voice's")
    func sameVoiceScoresHigherThanAnotherVoice() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let encoder = try VoiceEncoder(contentsOf: fixtures.weights)
        let a1 = try encoder.embed(fixtures.clip("a1", voice: "en-us", text: Self.firstSentence).samples)
        let a2 = try encoder.embed(fixtures.clip("a2", voice: "en-us", text: Self.secondSentence).samples)
        let b1 = try encoder.embed(fixtures.clip("b1", voice: "en-us+f3", text: Self.firstSentence).samples)
        let b2 = try encoder.embed(fixtures.clip("b2", voice: "en-us+f3", text: Self.secondSentence).samples)
        let same = min(VoiceEncoder.cosine(a1, a2), VoiceEncoder.cosine(b1, b2))
        // Even the same sentence in the other voice scores lower than different sentences in one voice.
        let other = [VoiceEncoder.cosine(a1, b1), VoiceEncoder.cosine(a2, b2), VoiceEncoder.cosine(a1, b2), VoiceEncoder.cosine(a2, b1)].max()!
        #expect(same > other + 0.1, "same voice \(same), other voice \(other)")
    }

    @Test("partials are laid out as Resemblyzer's compute_partial_slices and Chatterbox's get_num_wins lay them out")
    func partialPlans() {
        let resemblyzer = VoiceEncoderConfiguration.resemblyzer
        #expect(resemblyzer.frameStep == 77)
        // 10 s: 1001 frames, 12 partials; the last covers 96 % and is kept, padded to 1007 frames.
        let ten = resemblyzer.partialPlan(sampleCount: 160_000)
        #expect(ten.starts == Array(stride(from: 0, through: 847, by: 77)))
        #expect(ten.paddedSampleCount == 161_120)
        #expect(ten.frameCount == 1007)
        // 136 320 samples: an 11th partial at frame 770 would cover 51 % (< 75 %) and is dropped.
        let dropped = resemblyzer.partialPlan(sampleCount: 136_320)
        #expect(dropped.starts.count == 10)
        #expect(dropped.starts.last == 693)
        #expect(dropped.paddedSampleCount == 136_480)
        // Shorter than one partial: one partial over the zero-padded waveform.
        let short = resemblyzer.partialPlan(sampleCount: 8000)
        #expect(short == .init(starts: [0], paddedSampleCount: 25_600, frameCount: 160))
        // Chatterbox: 853 frames, remainder 0 → the 10th window covers 83/160 < 0.8 and is not added.
        let chatterbox = VoiceEncoderConfiguration.chatterbox.partialPlan(sampleCount: 136_320)
        #expect(chatterbox.starts == Array(stride(from: 0, through: 693, by: 77)))
        #expect(chatterbox.frameCount == 853)
        #expect(chatterbox.paddedSampleCount == 136_320)
        // ... while with 30 more frames the remainder lifts coverage to 113/160 < 0.8, and 50 more to 133/160 ≥ 0.8.
        #expect(VoiceEncoderConfiguration.chatterbox.partialPlan(sampleCount: 136_320 + 30 * 160).starts.count == 10)
        #expect(VoiceEncoderConfiguration.chatterbox.partialPlan(sampleCount: 136_320 + 50 * 160).starts.count == 11)
    }

    @Test("empty, non-finite and wrongly sampled audio is refused with invalidAudio")
    func rejectsUnusableAudio() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let encoder = try VoiceEncoder(contentsOf: fixtures.weights)
        #expect(throws: VoxError.self) { try encoder.embed([Float]()) }
        #expect(throws: VoxError.self) { try encoder.embed([0.1, .nan, 0.2]) }
        do {
            _ = try encoder.embed(AudioBuffer(samples: [Float](repeating: 0.1, count: 22050), sampleRate: 22050))
            Issue.record("22050 Hz audio was accepted")
        } catch let error as VoxError {
            #expect(error.kind == .invalidAudio)
            #expect(error.message.contains("16000"))
        }
    }

    @Test("weights that are not a voice encoder are refused with invalidModel")
    func rejectsForeignWeights() throws {
        let unrelated = ["decoder.weight": Tensor(float32: [1, 2, 3, 4], shape: [2, 2])]
        do {
            _ = try VoiceEncoder(weights: unrelated)
            Issue.record("weights without an LSTM were accepted")
        } catch let error as VoxError {
            #expect(error.kind == .invalidModel)
        }
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        var weights = try TorchLegacyReader.read(contentsOf: fixtures.weights)
        weights["lstm.weight_hh_l1"] = Tensor(float32: [Float](repeating: 0, count: 1024 * 255), shape: [1024, 255])
        do {
            _ = try VoiceEncoder(weights: weights)
            Issue.record("a wrongly shaped tensor was accepted")
        } catch let error as VoxError {
            #expect(error.kind == .invalidModel)
            #expect(error.message.contains("lstm.weight_hh_l1"))
        }
    }
}
