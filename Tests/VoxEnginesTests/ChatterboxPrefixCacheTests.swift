import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxEngines

/// The language model's cache of each voice's conditioning positions (`ChatterboxPrefixCache`):
/// a sentence in a voice heard before prefills only its text, and chooses, with greedy sampling,
/// the tokens it chooses with a whole prefill — alone, in the batch and with guidance rows.
@Suite struct ChatterboxPrefixCacheTests {
    static func options(maxBatch: Int = 1, cacheBytes: Int) -> ChatterboxOptions {
        var options = ChatterboxBatchTests.greedy(maxBatch: maxBatch)
        options.prefixCacheBytes = cacheBytes
        return options
    }

    @Test func aVoiceHeardBeforePrefillsOnlyItsText() async throws {
        let reference = try ChatterboxFixtures.reference()
        let whole = try ChatterboxFixtures.engine(options: Self.options(cacheBytes: 0))
        let cached = try ChatterboxFixtures.engine(options: Self.options(cacheBytes: 64 << 20))
        #expect(whole.prefixCache == nil)
        let expected = try await ChatterboxBatchTests.generations(whole, texts: ChatterboxBatchTests.texts, reference: reference)
        let got = try await ChatterboxBatchTests.generations(cached, texts: ChatterboxBatchTests.texts, reference: reference)
        #expect(got.map(\.tokens) == expected.map(\.tokens))
        #expect(expected.filter { $0.tokens.count > 5 }.count >= 3, "\(expected.map(\.tokens.count))")
        let conditioningLength = try await cached.conditioning(for: reference).length
        // The first sentence ran the whole prefill; the others started after the voice's positions.
        #expect(got.map { $0.cacheLengths.first } == [0] + Array(repeating: conditioningLength, count: got.count - 1))
        #expect(got.map(\.prefixLength) == expected.map(\.prefixLength))
        let prefixCache = try #require(cached.prefixCache)
        #expect(prefixCache.counters == .init(hits: got.count - 1, misses: 1, evictions: 0))
    }

    @Test func sentencesJoiningTheBatchStartFromTheVoicesPositions() async throws {
        let reference = try ChatterboxFixtures.reference()
        let whole = try ChatterboxFixtures.engine(options: Self.options(cacheBytes: 0))
        let expected = try await ChatterboxBatchTests.alone(whole, texts: ChatterboxBatchTests.texts, reference: reference)
        let engine = try ChatterboxFixtures.engine(options: Self.options(maxBatch: 4, cacheBytes: 64 << 20))
        // One sentence first, so the voice's positions are cached when the batch forms.
        let warm = try await ChatterboxBatchTests.batched(engine, texts: [ChatterboxBatchTests.texts[0]], reference: reference)
        #expect(warm == [expected[0]])
        let batched = try await ChatterboxBatchTests.batched(engine, texts: ChatterboxBatchTests.texts, reference: reference)
        #expect(batched == expected)
        #expect(try #require(engine.prefixCache).counters.hits == ChatterboxBatchTests.texts.count)
        #expect(try #require(engine.batcher).counters.joinsWhileDecoding >= 2)
    }

    /// The original model's guidance rows share the voice's positions: the cached row is repeated.
    @Test func guidanceRowsShareTheCachedPositions() async throws {
        let reference = try ChatterboxFixtures.reference()
        let texts = Array(ChatterboxBatchTests.texts.prefix(3))
        let whole = try ChatterboxFixtures.engine("chatterbox-tiny-original", options: Self.options(cacheBytes: 0))
        let cached = try ChatterboxFixtures.engine("chatterbox-tiny-original", options: Self.options(cacheBytes: 64 << 20))
        let expected = try await ChatterboxBatchTests.generations(whole, texts: texts, reference: reference, maxNewTokens: 30)
        let got = try await ChatterboxBatchTests.generations(cached, texts: texts, reference: reference, maxNewTokens: 30)
        #expect(got.allSatisfy { $0.batchSize == 2 })
        #expect(got.map(\.tokens) == expected.map(\.tokens))
        #expect(try #require(cached.prefixCache).counters.hits == texts.count - 1)
    }

    /// Another voice is a miss, and the least recently used voice goes when memory runs out.
    @Test func anotherVoiceMissesAndTheOldestIsEvicted() async throws {
        let engine = try ChatterboxFixtures.engine(options: Self.options(cacheBytes: 64 << 20))
        let first = try ChatterboxFixtures.reference(frequency: 140)
        let second = try ChatterboxFixtures.reference(frequency: 210)
        _ = try await ChatterboxBatchTests.generations(engine, texts: ["Hi."], reference: first, maxNewTokens: 3)
        let cache = try #require(engine.prefixCache)
        let one = try #require(cache.lookup(try await engine.conditioning(for: first)))
        #expect(cache.lookup(try await engine.conditioning(for: second)) == nil, "another voice's positions are not these")

        let small = try ChatterboxFixtures.engine(options: Self.options(cacheBytes: one.bytes))
        for reference in [first, second] {
            _ = try await ChatterboxBatchTests.generations(small, texts: ["Hi."], reference: reference, maxNewTokens: 3)
        }
        let smallCache = try #require(small.prefixCache)
        #expect(smallCache.count == 1)
        #expect(smallCache.counters.evictions == 1)
        #expect(smallCache.lookup(try await small.conditioning(for: second)) != nil)
        #expect(smallCache.lookup(try await small.conditioning(for: first)) == nil)
    }
}
