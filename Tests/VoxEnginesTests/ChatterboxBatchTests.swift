import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxEngines

/// Continuous batching (`ChatterboxBatcher`): sentences decoding together choose, with greedy
/// sampling, the tokens each chooses alone; they join with a chunked prefill, leave when they stop
/// and a cancelled or failed one leaves the others running. The tiny models' attention stand-in
/// leaves out the positions the attention mask hides, as real attention does, so a left-padded
/// row sees what it sees alone.
@Suite struct ChatterboxBatchTests {
    /// Sentences of different lengths: their prompts differ, so rows are padded, and the tiny
    /// model's stop position (64) comes at a different step for each.
    static let texts = [
        "Hi.",
        "Hello world, this is a test.",
        "A somewhat longer sentence, so that its prompt needs more positions than the others do.",
        "Short one here.",
    ]

    static func greedy(maxBatch: Int, prefillChunk: Int = 5, maxNewTokens: Int = 200) -> ChatterboxOptions {
        var options = ChatterboxOptions()
        options.sampler = TokenSampler(temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1.2)
        options.maxBatch = maxBatch
        options.prefillChunkPositions = prefillChunk
        options.maxNewTokens = maxNewTokens
        return options
    }

    /// Each text's tokens generated alone, by the batch-1 generator (no batcher involved).
    static func alone(_ engine: ChatterboxEngine, texts: [String], reference: VoiceReference, maxNewTokens: Int? = nil) async throws -> [[Int]] {
        try await generations(engine, texts: texts, reference: reference, maxNewTokens: maxNewTokens).map(\.tokens)
    }

    /// Each text generated alone, with what its generator recorded (cache lengths as well as tokens).
    static func generations(_ engine: ChatterboxEngine, texts: [String], reference: VoiceReference, maxNewTokens: Int? = nil) async throws -> [ChatterboxGeneration] {
        let conditioning = try await engine.conditioning(for: reference)
        var result: [ChatterboxGeneration] = []
        for (i, text) in texts.enumerated() {
            let generator = try engine.makeGenerator(sentence: text, conditioning: conditioning, seed: UInt64(i), maxNewTokens: maxNewTokens)
            let limit = generator.maxNewTokens
            _ = try await offload { try generator.run(atMost: limit) }
            result.append(generator.generation)
        }
        return result
    }

    /// Each text's tokens with all of them submitted to the engine's batch at once.
    static func batched(_ engine: ChatterboxEngine, texts: [String], reference: VoiceReference, maxNewTokens: Int? = nil) async throws -> [[Int]] {
        let conditioning = try await engine.conditioning(for: reference)
        let batcher = try #require(engine.batcher)
        let tickets = try texts.enumerated().map { i, text in
            batcher.submit(try engine.makeGenerator(sentence: text, conditioning: conditioning, seed: UInt64(i), maxNewTokens: maxNewTokens))
        }
        var result: [[Int]] = []
        for ticket in tickets {
            result.append(try await ticket.tokens(atLeast: Int.max).tokens)
        }
        return result
    }

    /// A row decodes ahead of its stream; the stream is answered as the generator alone would
    /// answer it, so its chunks (and audio) are the same.
    @Test func aTicketAnswersAsTheGeneratorAlone() {
        let t = [1, 2, 3, 4, 5]
        // Ahead of the stream: the first `count` tokens, not finished.
        #expect(ChatterboxBatchTicket.asAlone(tokens: t, finished: true, count: 3, limit: 10) == ([1, 2, 3], false))
        // Exactly `count` after a stop token: alone would only learn of the stop at the next step.
        #expect(ChatterboxBatchTicket.asAlone(tokens: t, finished: true, count: 5, limit: 10) == (t, false))
        // Exactly `count` at the token limit: alone ends there.
        #expect(ChatterboxBatchTicket.asAlone(tokens: t, finished: true, count: 5, limit: 5) == (t, true))
        // Fewer than asked: ended.
        #expect(ChatterboxBatchTicket.asAlone(tokens: t, finished: true, count: 8, limit: 10) == (t, true))
    }

    @Test func greedyTokensBatchedAreTheTokensAlone() async throws {
        let engine = try ChatterboxFixtures.engine(options: Self.greedy(maxBatch: 4))
        let reference = try ChatterboxFixtures.reference()
        let alone = try await Self.alone(engine, texts: Self.texts, reference: reference)
        let batched = try await Self.batched(engine, texts: Self.texts, reference: reference)
        #expect(batched == alone)
        // Rows of different prompt lengths stop at the tiny model's stop position, at different steps.
        #expect(Set(alone.map(\.count)).count > 1)
        #expect(alone.filter { $0.count > 5 }.count >= 3, "\(alone.map(\.count))")
        let counters = try #require(engine.batcher).counters
        #expect(counters.largestBatch >= 3)
        #expect(counters.joinsWhileDecoding >= 2)
        // Prefill chunks of 5 positions interleaved with the decoding rows' steps.
        #expect(counters.interleavedPrefillChunks > counters.joinsWhileDecoding)
    }

    /// The original model: every sentence is a pair of rows (conditional, unconditional) for
    /// classifier-free guidance, and the pairs ride in one batch.
    @Test func guidanceRowsRideInTheBatch() async throws {
        let engine = try ChatterboxFixtures.engine("chatterbox-tiny-original", options: Self.greedy(maxBatch: 4))
        let reference = try ChatterboxFixtures.reference()
        let texts = Array(Self.texts.prefix(3))
        let alone = try await Self.alone(engine, texts: texts, reference: reference, maxNewTokens: 30)
        let batched = try await Self.batched(engine, texts: texts, reference: reference, maxNewTokens: 30)
        // Two rows per sentence: guidance is on (cfg weight 0.5) and the export takes a batch of two.
        #expect(engine.layout.flavor == .original && engine.layout.lmAcceptsBatchOfTwo && engine.options.cfgWeight > 0)
        #expect(batched == alone)
        #expect(alone.filter { $0.count > 5 }.count >= 2, "\(alone.map(\.count))")
        #expect(try #require(engine.batcher).counters.largestBatch >= 2)
    }

    @Test func aCancelledRowLeavesTheOthersRunning() async throws {
        let engine = try ChatterboxFixtures.engine(options: Self.greedy(maxBatch: 4))
        let reference = try ChatterboxFixtures.reference()
        let texts = Array(Self.texts.prefix(3))
        let alone = try await Self.alone(engine, texts: texts, reference: reference)
        let conditioning = try await engine.conditioning(for: reference)
        let batcher = try #require(engine.batcher)
        let tickets = try texts.enumerated().map { i, text in
            batcher.submit(try engine.makeGenerator(sentence: text, conditioning: conditioning, seed: UInt64(i)))
        }
        // The listener of the second sentence leaves after a few tokens.
        let waiting = Task { try await tickets[1].tokens(atLeast: Int.max) }
        _ = try await tickets[1].tokens(atLeast: 3)
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        let first = try await tickets[0].tokens(atLeast: Int.max)
        let third = try await tickets[2].tokens(atLeast: Int.max)
        #expect(first.finished && third.finished)
        #expect(first.tokens == alone[0])
        #expect(third.tokens == alone[2])
        // The cancelled row stopped early instead of running to its stop position.
        #expect(tickets[1].generator.tokens.count < alone[1].count)
    }

    @Test func aFailedRowLeavesTheOthersRunning() async throws {
        let engine = try ChatterboxFixtures.engine(options: Self.greedy(maxBatch: 4))
        let reference = try ChatterboxFixtures.reference()
        let texts = Array(Self.texts.prefix(2))
        let alone = try await Self.alone(engine, texts: texts, reference: reference)
        let conditioning = try await engine.conditioning(for: reference)
        // Conditioning made for another hidden size: embed_tokens' output does not fit it.
        var broken = conditioning
        let hidden = conditioning.hiddenSize + 1
        broken.audioFeatures = Tensor(float32: [Float](repeating: 0.1, count: 3 * hidden), shape: [1, 3, hidden])
        let batcher = try #require(engine.batcher)
        let good0 = batcher.submit(try engine.makeGenerator(sentence: texts[0], conditioning: conditioning, seed: 0))
        let bad = batcher.submit(try engine.makeGenerator(sentence: "This one fails.", conditioning: broken, seed: 7))
        let good1 = batcher.submit(try engine.makeGenerator(sentence: texts[1], conditioning: conditioning, seed: 1))
        await #expect(throws: VoxError.self) { try await bad.tokens(atLeast: Int.max) }
        #expect(try await good0.tokens(atLeast: Int.max).tokens == alone[0])
        #expect(try await good1.tokens(atLeast: Int.max).tokens == alone[1])
    }

    /// Through the engine's own stream, as the server calls it: concurrent requests stream the
    /// audio they stream alone.
    @Test func concurrentStreamsBatchedGiveTheAudioAlone() async throws {
        let reference = try ChatterboxFixtures.reference()
        let requests = Self.texts.prefix(3).enumerated().map { i, text in
            SynthesisRequest(text: text + " And a second sentence follows it.", reference: reference, seed: UInt64(10 + i))
        }
        func audio(_ engine: ChatterboxEngine, concurrently: Bool) async throws -> [[Float]] {
            if !concurrently {
                var out: [[Float]] = []
                for request in requests { out.append(try await Self.collect(engine.stream(request))) }
                return out
            }
            return try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
                for (i, request) in requests.enumerated() {
                    group.addTask { (i, try await Self.collect(engine.stream(request))) }
                }
                var out = [[Float]](repeating: [], count: requests.count)
                for try await (i, samples) in group { out[i] = samples }
                return out
            }
        }
        let alone = try await audio(try ChatterboxFixtures.engine(options: Self.greedy(maxBatch: 1)), concurrently: false)
        let batchedEngine = try ChatterboxFixtures.engine(options: Self.greedy(maxBatch: 4))
        let batched = try await audio(batchedEngine, concurrently: true)
        #expect(batched == alone)
        #expect(alone.allSatisfy { !$0.isEmpty })
        #expect(try #require(batchedEngine.batcher).counters.largestBatch >= 2)
    }

    static func collect(_ stream: AsyncThrowingStream<AudioChunk, Error>) async throws -> [Float] {
        var samples: [Float] = []
        for try await chunk in stream { samples += chunk.audio.samples }
        return samples
    }

    /// The full-size Turbo stand-in (real GPT-2 attention exported by torch, which honours
    /// attention_mask and position_ids): greedy tokens batched are the tokens alone. Runs only when
    /// `make chatterbox-standin` has built it.
    @Test func standInGreedyTokensBatchedAreTheTokensAlone() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let deps = VoxPaths.fromEnvironment(env).depsDirectory else {
            print("SKIPPED standInGreedyTokensBatchedAreTheTokensAlone: no .deps folder")
            return
        }
        let directory = deps.appendingPathComponent("chatterbox-standin")
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("onnx/language_model.onnx").path) else {
            print("SKIPPED standInGreedyTokensBatchedAreTheTokensAlone: no stand-in in \(directory.path) (make chatterbox-standin)")
            return
        }
        var options = Self.greedy(maxBatch: 3, prefillChunk: 64, maxNewTokens: 12)
        options.ignoresStopToken = true
        let engine = try ChatterboxEngine(
            modelDirectory: directory, variants: [.languageModel: .fp32], options: options, runtime: try .shared(paths: .fromEnvironment(env)))
        let reference = try ChatterboxFixtures.reference(seconds: 8, sampleRate: 24_000)
        let texts = Array(Self.texts.prefix(3))
        let alone = try await Self.alone(engine, texts: texts, reference: reference)
        let batched = try await Self.batched(engine, texts: texts, reference: reference)
        #expect(batched == alone)
        #expect(alone.allSatisfy { $0.count == 12 })
        #expect(try #require(engine.batcher).counters.largestBatch >= 2)
    }
}

/// The language model alone on the full-size stand-in: N sentences one after another vs together
/// in the batch (no decoder, no server). Prints its figures; runs only with
/// VOXSERVE_BATCH_TIMING=1 and the stand-in built (it takes a minute or two).
@Suite struct ChatterboxBatchTimingTests {
    @Test func standInLanguageModelBatchedVsSequential() async throws {
        let env = ProcessInfo.processInfo.environment
        guard env["VOXSERVE_BATCH_TIMING"] == "1", let deps = VoxPaths.fromEnvironment(env).depsDirectory,
              FileManager.default.fileExists(atPath: deps.appendingPathComponent("chatterbox-standin/onnx/language_model.onnx").path)
        else {
            print("SKIPPED standInLanguageModelBatchedVsSequential: set VOXSERVE_BATCH_TIMING=1 with the stand-in built")
            return
        }
        let precision = ModelPrecision(rawValue: env["VOXSERVE_BATCH_TIMING_PRECISION"] ?? "fp32") ?? .fp32
        let tokens = 50
        for streams in (env["VOXSERVE_BATCH_TIMING_STREAMS"] ?? "1,2,4,8").split(separator: ",").compactMap({ Int($0) }) {
            var options = ChatterboxBatchTests.greedy(
                maxBatch: streams, prefillChunk: Int(env["VOXSERVE_BATCH_TIMING_CHUNK"] ?? "") ?? 16, maxNewTokens: Int(env["VOXSERVE_BATCH_TIMING_TOKENS"] ?? "") ?? tokens)
            options.ignoresStopToken = true
            let engine = try ChatterboxEngine(
                modelDirectory: deps.appendingPathComponent("chatterbox-standin"), variants: [.languageModel: precision], options: options,
                runtime: try .shared(paths: .fromEnvironment(env)))
            let reference = try ChatterboxFixtures.reference(seconds: 8, sampleRate: 24_000)
            let texts = (0..<streams).map { ChatterboxBatchTests.texts[$0 % ChatterboxBatchTests.texts.count] }
            _ = try await ChatterboxBatchTests.alone(engine, texts: [texts[0]], reference: reference)  // warm
            let clock = ContinuousClock()
            var start = clock.now
            _ = try await ChatterboxBatchTests.alone(engine, texts: texts, reference: reference)
            let sequential = (clock.now - start).seconds
            start = clock.now
            var stepMs = 0.0
            if let batcher = engine.batcher {
                let conditioning = try await engine.conditioning(for: reference)
                let tickets = try texts.enumerated().map { i, text in
                    batcher.submit(try engine.makeGenerator(sentence: text, conditioning: conditioning, seed: UInt64(i)))
                }
                for ticket in tickets { _ = try await ticket.tokens(atLeast: Int.max) }
                // The last sentence's decode steps: it decodes with the others for most of them.
                let steps = tickets.last!.generator.stepSeconds.dropFirst()
                stepMs = steps.reduce(0, +) / Double(max(1, steps.count)) * 1000
            } else {
                _ = try await ChatterboxBatchTests.alone(engine, texts: texts, reference: reference)
            }
            let batched = (clock.now - start).seconds
            let c = engine.batcher?.counters
            print(String(format: "LM only %@ %d streams: sequential %.2f s, batched %.2f s, x%.2f (largest batch %d, steps %d, last sentence's mean step %.0f ms)",
                         precision.rawValue, streams, sequential, batched, sequential / batched, c?.largestBatch ?? 1, c?.steps ?? 0, stepMs))
        }
    }
}
