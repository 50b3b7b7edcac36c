import Foundation
import Testing
import VoxAudio
import VoxCore
import VoxONNX
@testable import VoxEngines

@Suite struct ChatterboxEngineTests {
    let text = "Hello world."

    @Test func detectsTurboLayoutFromTheGraphs() throws {
        let engine = try ChatterboxFixtures.engine()
        #expect(engine.layout.flavor == .turbo)
        #expect(engine.layout.layerCount == 2)
        #expect(engine.layout.kvHeads == 16 && engine.layout.headDim == 64)
        #expect(engine.layout.kvType == .float32)
        #expect(engine.layout.lmTakesPositionIDs)
        #expect(!engine.layout.takesExaggeration)
        #expect(engine.info.engine == "chatterbox" && engine.info.sampleRate == 24_000)
        #expect(!engine.info.modelFingerprint.isEmpty)
    }

    @Test func theOptionsSentenceLengthDecidesHowTextIsSplit() async throws {
        // The execution plan's `maxSentenceCharacters` reaches the engine through its options.
        let sentence = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen."
        func spokenTexts(maxCharacters: Int) async throws -> [String] {
            var options = ChatterboxOptions()
            options.maxSentenceCharacters = maxCharacters
            options.maxNewTokens = 4
            let engine = try ChatterboxFixtures.engine(options: options)
            var texts: [String] = []
            for try await chunk in engine.stream(SynthesisRequest(text: sentence, reference: try ChatterboxFixtures.reference(), seed: 1)) {
                if let text = chunk.text, texts.last != text { texts.append(text) }
            }
            return texts
        }
        #expect(try await spokenTexts(maxCharacters: 300).count == 1)
        let short = try await spokenTexts(maxCharacters: 40)
        #expect(short.count >= 3, "\(short)")
        #expect(short.allSatisfy { $0.count <= 45 }, "\(short)")
    }

    @Test func everyChunkCarriesWhereItsVoiceCameFrom() async throws {
        let engine = try ChatterboxFixtures.engine()
        let reference = try ChatterboxFixtures.reference(frequency: 210)
        let request = SynthesisRequest(text: "Hello there. Again.", reference: reference, seed: 3)
        var first: [ConditioningCacheOutcome?] = []
        for try await chunk in engine.stream(request) { first.append(chunk.conditioning) }
        var second: [ConditioningCacheOutcome?] = []
        for try await chunk in engine.stream(request) { second.append(chunk.conditioning) }
        #expect(!first.isEmpty && first.allSatisfy { $0 == .miss })
        #expect(!second.isEmpty && second.allSatisfy { $0 == .memoryHit })
    }

    @Test func kvCacheGrowsByOneStepPerToken() async throws {
        let engine = try ChatterboxFixtures.engine()
        let gen = try await engine.speechTokens(for: text, reference: try ChatterboxFixtures.reference(), seed: 1)
        let prefix = engine.textIDs(for: text).count + 4
        #expect(gen.prefixLength == prefix)
        #expect(gen.cacheLengths.first == 0)
        #expect(Array(gen.cacheLengths.dropFirst()) == (0..<(gen.cacheLengths.count - 1)).map { prefix + $0 })
        #expect(gen.cacheLengths.count == gen.tokens.count + 1)  // the last run chose the stop token
    }

    @Test func generationStopsAtTheStopToken() async throws {
        let engine = try ChatterboxFixtures.engine()
        let stopAt = try ChatterboxFixtures.stopPosition(engine)
        let reference = try ChatterboxFixtures.reference()
        for sentence in ["Hello world.", "Hello world, this is a test of the tiny model."] {
            let gen = try await engine.speechTokens(for: sentence, reference: reference, seed: 5)
            #expect(gen.stoppedAtStopToken)
            #expect(gen.tokens.count == stopAt - gen.prefixLength + 1, "\(sentence)")
            #expect(!gen.tokens.contains(6562) && !gen.tokens.contains(6561))
        }
    }

    @Test func generationStopsAtTheStepLimit() async throws {
        let engine = try ChatterboxFixtures.engine()
        let gen = try await engine.speechTokens(for: text, reference: try ChatterboxFixtures.reference(), seed: 5, maxNewTokens: 7)
        #expect(gen.tokens.count == 7)
        #expect(!gen.stoppedAtStopToken)
        #expect(gen.cacheLengths.count == 7)
    }

    /// Chatterbox has no pace control: `speed` stretches what it speaks, whole or streamed, to
    /// 1/speed of the same seed's natural duration.
    @Test func speedStretchesTheDurationWholeAndStreamed() async throws {
        let engine = try ChatterboxFixtures.engine()
        let reference = try ChatterboxFixtures.reference()
        let natural = try await engine.synthesize(SynthesisRequest(text: text, reference: reference, seed: 9))
        let fast = try await engine.synthesize(SynthesisRequest(text: text, speed: 2, reference: reference, seed: 9))
        #expect(abs(fast.duration / natural.duration - 0.5) < 0.01, "\(fast.duration) s at speed 2, \(natural.duration) s at 1")
        var streamed = 0.0, slowStreamed = 0.0
        for try await chunk in engine.stream(SynthesisRequest(text: text, reference: reference, seed: 9)) { streamed += chunk.audio.duration }
        for try await chunk in engine.stream(SynthesisRequest(text: text, speed: 0.5, reference: reference, seed: 9)) { slowStreamed += chunk.audio.duration }
        #expect(abs(slowStreamed / streamed - 2) < 0.05, "\(slowStreamed) s at speed 0.5, \(streamed) s at 1")
    }

    @Test func aSeedFixesTheTokensAndAnotherSeedChangesThem() async throws {
        let engine = try ChatterboxFixtures.engine()
        let reference = try ChatterboxFixtures.reference()
        let a = try await engine.speechTokens(for: text, reference: reference, seed: 1234)
        let b = try await engine.speechTokens(for: text, reference: reference, seed: 1234)
        let c = try await engine.speechTokens(for: text, reference: reference, seed: 1235)
        #expect(a.tokens == b.tokens)
        #expect(a.tokens != c.tokens)
        #expect(Set(a.tokens).count > a.tokens.count / 2)  // sampled, not one token over and over
        let audioA = try await engine.synthesize(SynthesisRequest(text: text, reference: reference, seed: 9))
        let audioB = try await engine.synthesize(SynthesisRequest(text: text, reference: reference, seed: 9))
        #expect(audioA == audioB)
    }

    @Test func aKnownVoiceSkipsTheSpeechEncoderAndANewOneRunsIt() async throws {
        let store = CountingConditioningStore()
        let engine = try ChatterboxFixtures.engine(store: store)
        let voice = try ChatterboxFixtures.reference(frequency: 140, label: "a.wav")
        _ = try await engine.synthesize(SynthesisRequest(text: text, reference: voice, seed: 1))
        #expect(engine.speechEncoderRuns == 1)
        // Same bytes under another name: still the same voice.
        let renamed = VoiceReference(data: voice.data, label: "b.wav")
        _ = try await engine.synthesize(SynthesisRequest(text: "Another sentence.", reference: renamed, seed: 2))
        #expect(engine.speechEncoderRuns == 1)
        let other = try ChatterboxFixtures.reference(frequency: 220, label: "c.wav")
        _ = try await engine.synthesize(SynthesisRequest(text: text, reference: other, seed: 1))
        #expect(engine.speechEncoderRuns == 2)
        #expect(await store.lookups == 3)
        #expect(await store.lastParameters["lufs"] == "-27.0")
        #expect(await store.lastFingerprint == engine.files.fingerprint(of: .speechEncoder))
        let a = try await engine.conditioning(for: voice)
        let c = try await engine.conditioning(for: other)
        #expect(a.speakerEmbeddings != c.speakerEmbeddings)
        #expect(engine.speechEncoderRuns == 2)
    }

    @Test func concurrentRequestsForOneVoiceEncodeItOnce() async throws {
        let engine = try ChatterboxFixtures.engine()
        let voice = try ChatterboxFixtures.reference(frequency: 180)
        try await withThrowingTaskGroup(of: ChatterboxConditioning.self) { group in
            for _ in 0..<4 { group.addTask { try await engine.conditioning(for: voice) } }
            for try await _ in group {}
        }
        #expect(engine.speechEncoderRuns == 1)
    }

    @Test func decoderGetsThePromptFirstAndThreeSilenceTokensLast() async throws {
        let engine = try ChatterboxFixtures.engine()
        let reference = try ChatterboxFixtures.reference()
        let gen = try await engine.speechTokens(for: text, reference: reference, seed: 3)
        let audio = try await engine.synthesize(SynthesisRequest(text: text, reference: reference, seed: 3))
        #expect(audio.sampleRate == 24_000)
        // The tiny decoder renders 960 samples per token and drops the prompt's audio.
        #expect(audio.samples.count == (gen.tokens.count + 3) * 960)
        #expect(audio.samples.suffix(3 * 960).allSatisfy { $0 == 0 })
        #expect(!AudioBuffer(samples: Array(audio.samples.prefix(gen.tokens.count * 960)), sampleRate: 24_000).isSilent())
    }

    /// With the decoder in step with generation and overlapped with it (what the plan chooses on CUDA).
    @Test(arguments: [false, true])
    func streamingYieldsSeveralChunksThatJoinIntoTheWholeUtterance(overlapDecoder: Bool) async throws {
        var options = ChatterboxOptions()
        options.streamFirstChunkTokens = 12
        options.streamChunkTokens = 15
        options.overlapDecoder = overlapDecoder
        let engine = try ChatterboxFixtures.engine(options: options)
        let request = SynthesisRequest(text: text, reference: try ChatterboxFixtures.reference(), seed: 77)
        let whole = try await engine.synthesize(request)
        var chunks: [AudioChunk] = []
        for try await chunk in engine.stream(request) { chunks.append(chunk) }
        #expect(chunks.count >= 3)
        #expect(chunks.map(\.index) == Array(0..<chunks.count))
        #expect(chunks.map(\.isLast) == Array(repeating: false, count: chunks.count - 1) + [true])
        #expect(chunks[0].audio.duration < whole.duration / 2)
        let joined = chunks.flatMap(\.audio.samples)
        #expect(joined.count == whole.samples.count)
        // Outside the crossfades the samples are the same; inside, within the blend of two equal decodes.
        let worst = zip(joined, whole.samples).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-4)
    }

    @Test func textSplitsIntoSentencesEachWithItsOwnTokens() async throws {
        let engine = try ChatterboxFixtures.engine()
        let reference = try ChatterboxFixtures.reference()
        let one = try await engine.synthesize(SynthesisRequest(text: "Hello world.", reference: reference, seed: 4))
        let two = try await engine.synthesize(SynthesisRequest(text: "Hello world. Hello world.", reference: reference, seed: 4))
        // Two sentences, each ending in its own three silence tokens.
        #expect(two.samples.count > one.samples.count * 3 / 2)
        #expect(two.samples.prefix(one.samples.count).elementsEqual(one.samples))
    }

    @Test func fp16LanguageModelRunsWithAHalfPrecisionCache() async throws {
        let engine = try ChatterboxFixtures.engine(variants: [.languageModel: .fp16])
        #expect(engine.layout.kvType == .float16)
        #expect(engine.layout.embedsType == .float16)
        let stopAt = try ChatterboxFixtures.stopPosition(engine)
        let gen = try await engine.speechTokens(for: text, reference: try ChatterboxFixtures.reference(), seed: 8)
        #expect(gen.stoppedAtStopToken)
        #expect(gen.tokens.count == stopAt - gen.prefixLength + 1)
    }

    @Test func originalModelUsesGuidanceExaggerationAndItsOwnDepth() async throws {
        let engine = try ChatterboxFixtures.engine("chatterbox-tiny-original")
        #expect(engine.layout.flavor == .original)
        #expect(engine.layout.layerCount == 3)
        #expect(engine.layout.takesExaggeration && engine.layout.embedTakesPositionIDs && !engine.layout.lmTakesPositionIDs)
        let reference = try ChatterboxFixtures.reference()
        let stopAt = try ChatterboxFixtures.stopPosition(engine)
        let guided = try await engine.speechTokens(for: "Hello there.", reference: reference, seed: 21)
        #expect(guided.batchSize == 2)
        #expect(guided.stoppedAtStopToken)
        #expect(guided.tokens.count == stopAt - guided.prefixLength + 1)
        // [exaggeration] [START] text… [STOP] [start of speech] ×2, after the conditioning (the
        // tokenizer's template gives [START] and [STOP]).
        #expect(guided.prefixLength == 4 + engine.textIDs(for: "Hello there.").count + 3)

        var plain = ChatterboxOptions()
        plain.cfgWeight = 0
        let unguided = try await ChatterboxFixtures.engine("chatterbox-tiny-original", options: plain)
            .speechTokens(for: "Hello there.", reference: reference, seed: 21)
        #expect(unguided.batchSize == 1)
        #expect(unguided.tokens != guided.tokens)

        var excited = ChatterboxOptions()
        excited.exaggeration = 1.5
        let exaggerated = try await ChatterboxFixtures.engine("chatterbox-tiny-original", options: excited)
            .speechTokens(for: "Hello there.", reference: reference, seed: 21)
        #expect(exaggerated.tokens != guided.tokens)

        let audio = try await engine.synthesize(SynthesisRequest(text: "Hello there.", reference: reference, seed: 21))
        #expect(audio.samples.count == guided.tokens.count * 960)  // no silence tokens for the original
    }

    @Test func shortSilentAndCorruptReferencesAreInvalidAudio() async throws {
        let engine = try ChatterboxFixtures.engine()
        let short = try ChatterboxFixtures.reference(seconds: 3)
        let silentData = try AudioEncoder().encode(AudioBuffer.silence(seconds: 6, sampleRate: 24_000), as: .wav)
        let cases: [(VoiceReference, String)] = [
            (short, "5"),
            (VoiceReference(data: silentData, label: "silent.wav"), "silent"),
            (VoiceReference(data: Data("this is not audio at all".utf8), label: "notes.txt"), "notes.txt"),
            (VoiceReference(data: short.data.prefix(30), label: "cut.wav"), "cut.wav"),
        ]
        for (reference, mention) in cases {
            let error = await #expect(throws: VoxError.self) {
                _ = try await engine.synthesize(SynthesisRequest(text: text, reference: reference, seed: 1))
            }
            #expect(error?.kind == .invalidAudio, "\(reference.label): \(error?.message ?? "")")
            #expect(error?.message.contains(mention) == true, "\(error?.message ?? "")")
        }
        #expect(engine.speechEncoderRuns == 0)
    }

    @Test func noReferenceIsAClearInputError() async throws {
        let engine = try ChatterboxFixtures.engine()
        let error = await #expect(throws: VoxError.self) { _ = try await engine.synthesize(SynthesisRequest(text: text)) }
        #expect(error?.kind == .invalidInput)
        #expect(error?.message.contains("reference") == true)
    }

    /// As upstream: Turbo's reference is normalised to −27 LUFS and the original model's is not;
    /// both keep the whole clip (the graph crops), up to the 60 s guard.
    @Test func referencePreparationFollowsUpstreamForEachModel() throws {
        let long = AudioBuffer(
            samples: (0..<(20 * 16_000)).map { Float(0.05 * sin(2 * Double.pi * 200 * Double($0) / 16_000)) }, sampleRate: 16_000)
        let turbo = try ChatterboxEngine.prepareReference(long, label: "long.wav", options: ChatterboxOptions(), flavor: .turbo)
        #expect(turbo.sampleRate == 24_000)
        #expect(turbo.samples.count == 20 * 24_000)
        #expect(abs(try LoudnessMeter().integratedLoudness(of: turbo) + 27) < 0.5)
        let original = try ChatterboxEngine.prepareReference(long, label: "long.wav", options: ChatterboxOptions(), flavor: .original)
        #expect(original.samples.count == 20 * 24_000)
        let resampled = try Resampler.resample(long, to: 24_000)
        #expect(abs(try LoudnessMeter().integratedLoudness(of: original) - LoudnessMeter().integratedLoudness(of: resampled)) < 0.01)
        let huge = AudioBuffer(samples: [Float](repeating: 0, count: 70 * 16_000).enumerated().map { i, _ in Float(0.05 * sin(Double(i) / 10)) }, sampleRate: 16_000)
        #expect(try ChatterboxEngine.prepareReference(huge, label: "huge.wav", options: ChatterboxOptions()).samples.count == 60 * 24_000)
    }

    /// Turbo's `punc_norm` keeps `...`, ` - ` and `;`; the original model's rewrites them.
    @Test func textNormalisationFollowsEachModelsOwnRules() {
        let text = "wait... then - go; now: “ok”"
        #expect(ChatterboxTextNormalizer.normalize(text, flavor: .original) == "Wait, then, go, now, \"ok\".")
        #expect(ChatterboxTextNormalizer.normalize(text, flavor: .turbo) == "Wait... then - go; now, \"ok\".")
    }

    /// The original model's guidance: the unconditional row keeps the text's positions (upstream
    /// zeroes only the token embeddings) and carries no text.
    @Test func theUnconditionalRowKeepsPositionsAndDropsTheText() throws {
        let prompt = [6563, 255, 40, 41, 42, 0, 6561, 6561]
        #expect(ChatterboxGenerator.unconditionalIDs(prompt) == [6563, 255, 255, 255, 255, 0, 6561, 6561])
        let engine = try ChatterboxFixtures.engine("chatterbox-tiny-original")
        let positions = ChatterboxGenerator.promptPositions(prompt).map(Int64.init)
        func embed(_ ids: [Int]) throws -> [Float] {
            try engine.embedTokens.run([
                "input_ids": Tensor(int64: ids.map(Int64.init), shape: [1, ids.count]),
                "position_ids": Tensor(int64: positions, shape: [1, ids.count]),
                "exaggeration": Tensor(float32: [0.5], shape: [1]),
            ])["inputs_embeds"]!.floats()
        }
        let uncond = try embed(ChatterboxGenerator.unconditionalIDs(prompt))
        let hidden = uncond.count / prompt.count
        let row = { (i: Int) in Array(uncond[(i * hidden)..<((i + 1) * hidden)]) }
        // Same token at positions 1, 2, 3, 4: the rows differ by their positional embeddings only.
        #expect(row(2) != row(3) && row(3) != row(4))
        #expect(row(2).contains { $0 != 0 })
        let cond = try embed(prompt)
        #expect(Array(cond[(2 * hidden)..<(3 * hidden)]) != row(2))  // the text is gone…
        #expect(Array(cond[(6 * hidden)..<(8 * hidden)]) == Array(uncond[(6 * hidden)..<(8 * hidden)]))  // …the speech start is not
    }
}
