import Foundation
import Testing
import VoxAudio
import VoxCore
import VoxONNX
@testable import VoxEngines

/// What the engine must do the way the published Chatterbox code does it, on fixtures that model
/// the real files: Turbo's tokenizer template and embed_tokens' slice, the original model's text
/// template, exports that keep only the last logits, upstream's sampling orders.
@Suite struct ChatterboxFidelityTests {
    // MARK: Turbo: exactly two trailing placeholders

    @Test func turboPromptsEndInExactlyTwoPlaceholdersWhateverTheTokenizerAdded() {
        let p = 50256
        for text in [[15496, 995], [15496, 995, p, p], [15496, 995, p], [15496, 995, p, p, p]] {
            #expect(ChatterboxGenerator.promptIDs(text: text, flavor: .turbo, placeholder: p) == [15496, 995, p, p], "\(text)")
        }
    }

    /// `tokenizer.json` (with its template) and `vocab.json` + `merges.txt` (without one) give the
    /// same prompt and so the same speech: before, the fallback fed the last two text ids to the
    /// speech table.
    @Test func turboSpeaksTheSameWithOrWithoutTheTokenizersTemplate() async throws {
        let withTemplate = try ChatterboxFixtures.engine()
        let eot = try #require(withTemplate.tokenizer.id(for: "<|endoftext|>"))
        #expect(withTemplate.textIDs(for: "Hello world").suffix(2) == [eot, eot])
        let fallbackDir = try ChatterboxFixtures.copy("chatterbox-tiny") { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("tokenizer.json"))
        }
        defer { try? FileManager.default.removeItem(at: fallbackDir) }
        let fallback = try ChatterboxEngine(
            modelDirectory: fallbackDir, runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        #expect(fallback.textIDs(for: "Hello world").last != eot)

        let reference = try ChatterboxFixtures.reference()
        let a = try await withTemplate.speechTokens(for: "Hello world.", reference: reference, seed: 7)
        let b = try await fallback.speechTokens(for: "Hello world.", reference: reference, seed: 7)
        #expect(a.tokens == b.tokens)
        #expect(a.prefixLength == b.prefixLength)
        let textOnly = withTemplate.textIDs(for: "Hello world.").count - 2
        #expect(a.prefixLength == 4 + textOnly + 2)  // conditioning, text, two start-of-speech
    }

    /// The fixture's embed_tokens reads the last two ids as speech, with the placeholder as
    /// start-of-speech 6561, as Turbo's export does: the prompt's last two embeddings are the
    /// speech table's 6561 row, and the text's own embeddings differ from it.
    @Test func theTurboFixtureEmbedsTheLastTwoIdsAsSpeech() throws {
        let engine = try ChatterboxFixtures.engine()
        let eot = try #require(engine.tokenizer.id(for: "<|endoftext|>"))
        let ids = ChatterboxGenerator.promptIDs(text: engine.textIDs(for: "Hello world"), flavor: .turbo, placeholder: eot)
        let prompt = try engine.embedTokens.run(["input_ids": Tensor(int64: ids.map(Int64.init), shape: [1, ids.count])])["inputs_embeds"]!
        let start = try engine.embedTokens.run(["input_ids": Tensor(int64: [6561], shape: [1, 1])])["inputs_embeds"]!.floats()
        let rows = prompt.floats()
        let hidden = start.count
        let n = ids.count
        #expect(Array(rows[((n - 2) * hidden)..<((n - 1) * hidden)]) == start)
        #expect(Array(rows[((n - 1) * hidden)..<(n * hidden)]) == start)
        #expect(Array(rows[0..<hidden]) != start)
    }

    // MARK: The original model's template

    @Test func originalPromptsAreUpstreamsLayoutWhateverTheTokenizerAdded() {
        let expected = [6563, 255, 40, 41, 0, 6561, 6561]
        for text in [[40, 41], [255, 40, 41, 0], [6563, 255, 40, 41, 0, 6561], [255, 40, 41, 0, 6561, 6561]] {
            #expect(ChatterboxGenerator.promptIDs(text: text, flavor: .original, placeholder: 50256) == expected, "\(text)")
        }
        // Positions: text from 0 at [START]; the exaggeration slot and both speech tokens at 0.
        #expect(ChatterboxGenerator.promptPositions(expected) == [0, 0, 1, 2, 3, 0, 0])
    }

    @Test func theOriginalModelSpeaksTheSameWithOrWithoutTheTokenizersTemplate() async throws {
        let withTemplate = try ChatterboxFixtures.engine("chatterbox-tiny-original")
        let bareDir = try ChatterboxFixtures.copy("chatterbox-tiny-original") { dir in
            let url = dir.appendingPathComponent("tokenizer.json")
            var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            json["post_processor"] = NSNull()
            try JSONSerialization.data(withJSONObject: json).write(to: url)
        }
        defer { try? FileManager.default.removeItem(at: bareDir) }
        let bare = try ChatterboxEngine(modelDirectory: bareDir, runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        #expect(bare.textIDs(for: "Hello there.").first != 255)
        let reference = try ChatterboxFixtures.reference()
        let a = try await withTemplate.speechTokens(for: "Hello there.", reference: reference, seed: 3)
        let b = try await bare.speechTokens(for: "Hello there.", reference: reference, seed: 3)
        #expect(a.tokens == b.tokens)
        #expect(a.prefixLength == 4 + bare.textIDs(for: "Hello there.").count + 5)
    }

    // MARK: Exports that keep only the last logits

    @Test func aLanguageModelThatKeepsOnlyTheLastLogitsSpeaksTheSame() async throws {
        let keep = try ChatterboxFixtures.engine("chatterbox-tiny-keeplogits")
        #expect(keep.layout.lmExtraInputs.map(\.name) == ["num_logits_to_keep"])
        #expect(keep.languageModel.output(named: "logits")?.shape[1] == -1)
        let reference = try ChatterboxFixtures.reference()
        for seed: UInt64 in [1, 2] {
            let a = try await ChatterboxFixtures.engine().speechTokens(for: "Hello world.", reference: reference, seed: seed)
            let b = try await keep.speechTokens(for: "Hello world.", reference: reference, seed: seed)
            #expect(a.tokens == b.tokens)
            #expect(b.stoppedAtStopToken)
        }
    }

    @Test func anUnknownLanguageModelInputIsRefusedByName() throws {
        let info = { (name: String, shape: [Int]) in TensorInfo(name: name, elementType: .float32, shape: shape) }
        let lmInputs = [info("inputs_embeds", [-1, -1, 32]), TensorInfo(name: "attention_mask", elementType: .int64, shape: [-1, -1]),
                        info("past_key_values.0.key", [-1, 16, -1, 64]), info("past_key_values.0.value", [-1, 16, -1, 64]),
                        info("mystery_input", [4])]
        #expect {
            _ = try ChatterboxModelLayout(
                speechEncoder: ([info("audio_values", [1, -1])], ChatterboxConditioning.outputNames.map { info($0, [1, -1]) }),
                embedTokens: ([TensorInfo(name: "input_ids", elementType: .int64, shape: [-1, -1])], [info("inputs_embeds", [-1, -1, 32])]),
                languageModel: (lmInputs, [info("logits", [-1, -1, 6563]), info("present.0.key", [-1, 16, -1, 64]), info("present.0.value", [-1, 16, -1, 64])]),
                conditionalDecoder: ([TensorInfo(name: "speech_tokens", elementType: .int64, shape: [1, -1]), info("speaker_embeddings", [1, 192]), info("speaker_features", [1, -1, 80])], [info("waveform", [1, -1])]))
        } throws: { error in
            (error as? VoxError)?.message.contains("mystery_input") == true
        }
    }

    // MARK: The voice encoder's front end

    /// Chatterbox's `melspec.py`: `librosa.filters.mel` with its defaults (Slaney scale and Slaney
    /// area normalisation) and `librosa.stft(center=True, pad_mode="reflect")`.
    @Test func theVoiceEncoderFrontEndIsLibrosasAsMelspecPyCallsIt() {
        let config = VoiceEncoderConfiguration.chatterbox
        #expect(config.melScale == .slaney && config.melNormalization == .slaney && config.padding == .reflect)
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney-normalised filters have area
        // 2/(f_right − f_left) per Hz before sampling, so low (narrow, linear-scale) filters peak
        // higher than high (wide, log-scale) ones; an unnormalised HTK bank peaks at 1 everywhere.
        let bank = MelFrontEnd.filterbank(melCount: 40, scale: config.melScale, normalization: config.melNormalization)
        let peaks = bank.map { $0.max()! }
        #expect(peaks[0] > peaks[39] * 4)
        // Filter 0 spans 0–147.1 Hz (Slaney's linear part: 45.25 mels over 41 steps of 73.6 Hz), so
        // it is scaled by 2/147.1 and peaks at the 80 Hz bin at 0.912 of that: 0.0124 (librosa and
        // scripts/reference_voice_encoder.py agree); filter 39 peaks at 0.00172.
        #expect(abs(Double(peaks[0]) - 0.012405) < 1e-5)
        #expect(abs(Double(peaks[39]) - 0.001725) < 1e-5)
    }

    // MARK: The model card's own loop

    /// scripts/chatterbox_reference_loop.py is the model card's Python ONNX Runtime loop (the
    /// tokenizer's template, numpy arrays each step, greedy: penalty then argmax). On the same
    /// graphs and reference, VoxServe's greedy generation chooses the same tokens and stops at the
    /// same place. With `VOXSERVE_CHATTERBOX_DIR` set, ChatterboxRealModelTests does this on the real model.
    @Test func greedyTokensAreTheModelCardLoops() async throws {
        let tokens = try await Self.compareWithTheModelCardLoop(directory: try ChatterboxFixtures.directory(), maxNewTokens: 80)
        #expect(tokens.voxserve == tokens.reference)
        #expect(tokens.voxserve.count > 5)
    }

    /// Both sides' greedy tokens for one sentence on the export in `directory`.
    static func compareWithTheModelCardLoop(directory: URL, maxNewTokens: Int) async throws -> (voxserve: [Int], reference: [Int]) {
        let env = ProcessInfo.processInfo.environment
        let deps = try #require(VoxPaths.fromEnvironment(env).depsDirectory)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var options = ChatterboxOptions()
        options.sampler = TokenSampler(temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1.2)
        options.normalizeText = false
        let engine = try ChatterboxEngine(modelDirectory: directory, options: options, runtime: try .shared(paths: .fromEnvironment(env)))
        // The reference at 24 kHz in 16 bits (what the loop reads), already prepared as the engine
        // prepares it, so both sides encode the same samples.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vox-cardloop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let decoded = try AudioDecoder().decode(try ChatterboxFixtures.reference(seconds: 8, sampleRate: 24_000))
        let prepared = try ChatterboxEngine.prepareReference(decoded, label: "ref", options: options, flavor: engine.layout.flavor)
        let wav = scratch.appendingPathComponent("ref.wav")
        try AudioEncoder(wavSampleFormat: .int16).encode(prepared, as: .wav).write(to: wav)
        let text = "Hello world, this is a test."
        let ours = try await engine.speechTokens(for: text, reference: try VoiceReference(contentsOf: wav), seed: 0, maxNewTokens: maxNewTokens)
        let out = scratch.appendingPathComponent("loop.json")
        let python = deps.appendingPathComponent("venv/bin/python")
        // Off the cooperative pool: the loop takes seconds, and a blocked pool thread starves other tests' tasks.
        let arguments = [
            root.appendingPathComponent("scripts/chatterbox_reference_loop.py").path, "--model-dir", directory.path, "--greedy",
            "--tokens", "\(maxNewTokens - 1)", "--threads", "1", "--reference", wav.path, "--text", text, "--json", out.path,
        ]
        let result = try await offload { try ProcessRunner.run(python, arguments) }
        try #require(result.status == 0, "the reference loop failed: \(result.stderrText.suffix(600))")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
        return (ours.tokens, try #require(json["token_ids"] as? [Int]))
    }

    // MARK: A fixed token budget (benchmarks)

    @Test func ignoringTheStopTokenGeneratesExactlyTheBudget() async throws {
        var options = ChatterboxOptions()
        options.ignoresStopToken = true
        let engine = try ChatterboxFixtures.engine(options: options)
        let stopAt = try ChatterboxFixtures.stopPosition(engine)
        let budget = stopAt + 20  // well past where the tiny model emits the stop token
        let gen = try await engine.speechTokens(for: "Hello world.", reference: try ChatterboxFixtures.reference(), seed: 5, maxNewTokens: budget)
        #expect(gen.tokens.count == budget)
        #expect(!gen.stoppedAtStopToken)
        #expect(!gen.tokens.contains(ChatterboxGenerator.stopToken))
    }
}

/// Upstream's two sampling orders, and sampling without sorting the vocabulary.
@Suite struct ChatterboxSamplingOrderTests {
    /// Token 0 leads token 1 by a little and was generated before. Penalised first (Hugging Face,
    /// the original model), top-1 keeps token 1; filtered first (Turbo), top-1 keeps token 0.
    @Test func turboPenalisesAfterFilteringAndTheOriginalBefore() {
        let logits: [Float] = [5, 4.9, 1, 0]
        var rng = SeededGenerator(seed: 1)
        let before = TokenSampler(temperature: 1, topK: 1, topP: 1, repetitionPenalty: 1.2, penaltyOrder: .beforeFiltering)
        let after = TokenSampler(temperature: 1, topK: 1, topP: 1, repetitionPenalty: 1.2, penaltyOrder: .afterFiltering)
        #expect(before.sample(logits, history: [0], using: &rng) == 1)
        #expect(after.sample(logits, history: [0], using: &rng) == 0)
        #expect(TokenSampler.turbo.penaltyOrder == .afterFiltering)
        #expect(TokenSampler.original.penaltyOrder == .beforeFiltering)
        #expect(TokenSampler.original.minP == 0.05 && TokenSampler.original.topP == 1 && TokenSampler.original.topK == 0)
    }

    @Test func afterFilteringThePenaltyReweighsTheKeptTokens() {
        let sampler = TokenSampler(temperature: 1, topK: 2, topP: 1, repetitionPenalty: 2, penaltyOrder: .afterFiltering)
        var counts = [0, 0, 0]
        var rng = SeededGenerator(seed: 9)
        // Kept: 0 and 1 (equal logits 2); 0 is penalised to 1, so p(0) = e/(e+e²) ≈ 0.27.
        for _ in 0..<4000 { counts[sampler.sample([2, 2, -5], history: [0], using: &rng)] += 1 }
        #expect(counts[2] == 0)
        #expect(abs(Double(counts[0]) / 4000 - 0.269) < 0.03)
    }

    @Test func minPKeepsTokensNearTheBest() {
        // Probabilities ∝ e^0, e^-1, e^-4: relative to the best 1, 0.37, 0.018.
        let d = TokenSampler(temperature: 1, topK: 0, topP: 1, minP: 0.05, repetitionPenalty: 1).distribution([0, -1, -4])
        #expect(d.map(\.token) == [0, 1])
        #expect(abs(d[0].probability - 1 / (1 + exp(-1))) < 1e-9)
    }

    /// The selection-and-heap sampler gives exactly what sorting the whole vocabulary gives.
    @Test func withoutSortingTheVocabularyTheDistributionIsTheSortedOne() {
        var rng = SeededGenerator(seed: 42)
        for trial in 0..<20 {
            // Real-sized logits with ties, as low-precision exports produce.
            let logits = (0..<6563).map { _ in Float((rng.nextUnit() * 8 - 4) * 64).rounded() / 64 }
            let sampler = TokenSampler(temperature: 0.8, topK: trial % 2 == 0 ? 1000 : 0, topP: 0.95, repetitionPenalty: 1)
            let got = sampler.distribution(logits)
            let want = Self.sortedReference(logits, temperature: 0.8, topK: sampler.topK, topP: 0.95)
            #expect(got.map(\.token) == want.map(\.token), "trial \(trial)")
            #expect(zip(got, want).allSatisfy { abs($0.probability - $1.probability) < 1e-9 })
        }
        let values = (0..<1000).map { _ in Float(rng.nextUnit()) }
        let sorted = values.sorted(by: >)
        for k in [1, 2, 500, 999, 1000] { #expect(TokenSampler.kthLargest(values, k: k) == sorted[k - 1]) }
    }

    /// Hugging Face's warpers written the plain way: sort everything, cut at k (keeping ties), softmax, cut at p.
    static func sortedReference(_ logits: [Float], temperature: Float, topK: Int, topP: Float) -> [(token: Int, probability: Double)] {
        var order = Array(logits.indices)
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if topK > 0, order.count > topK {
            let kth = logits[order[topK - 1]]
            order = order.filter { logits[$0] >= kth }
        }
        let weights = order.map { exp((Double(logits[$0]) - Double(logits[order[0]])) / Double(temperature)) }
        let total = weights.reduce(0, +)
        var kept = 0, cumulative = 0.0
        for w in weights {
            kept += 1
            cumulative += w / total
            if cumulative >= Double(topP) { break }
        }
        let keptTotal = weights[..<kept].reduce(0, +)
        return (0..<kept).map { (order[$0], weights[$0] / keptTotal) }
    }
}
