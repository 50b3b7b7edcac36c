import Foundation
import Testing
@testable import VoxEngines

@Suite struct ChatterboxSamplerTests {
    @Test func seededGeneratorRepeatsForASeedAndDiffersAcrossSeeds() {
        var a = SeededGenerator(seed: 42)
        var b = SeededGenerator(seed: 42)
        var c = SeededGenerator(seed: 43)
        let xs = (0..<8).map { _ in a.next() }
        #expect(xs == (0..<8).map { _ in b.next() })
        #expect(xs != (0..<8).map { _ in c.next() })
        #expect(Set(xs).count == 8)
        var u = SeededGenerator(seed: 1)
        let units = (0..<10_000).map { _ in u.nextUnit() }
        #expect(units.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = units.reduce(0, +) / Double(units.count)
        #expect(abs(mean - 0.5) < 0.02)
    }

    @Test func derivedSeedsAreStableAndDistinct() {
        #expect(SeededGenerator.derive(7, index: 0) == SeededGenerator.derive(7, index: 0))
        #expect(SeededGenerator.derive(7, index: 0) != SeededGenerator.derive(7, index: 1))
        #expect(SeededGenerator.derive(7, index: 0) != SeededGenerator.derive(8, index: 0))
    }

    @Test func repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        let sampler = TokenSampler(repetitionPenalty: 2)
        let out = sampler.penalized([4, -4, 4, -4], history: [0, 1])
        #expect(out == [2, -8, 4, -4])
    }

    @Test func zeroTemperatureIsGreedy() {
        let sampler = TokenSampler(temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1)
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<20 {
            #expect(sampler.sample([0.1, 2.5, 2.4, -1], history: [], using: &rng) == 1)
        }
    }

    @Test func topKKeepsTheKMostLikelyTokens() {
        let sampler = TokenSampler(temperature: 1, topK: 2, topP: 1, repetitionPenalty: 1)
        let d = sampler.distribution([1, 5, 3, 4])
        #expect(d.map(\.token) == [1, 3])
        #expect(abs(d.map(\.probability).reduce(0, +) - 1) < 1e-9)
    }

    @Test func topPKeepsTheSmallestNucleus() {
        // Softmax of [ln 6, ln 3, ln 1] is [0.6, 0.3, 0.1].
        let logits: [Float] = [Float(log(6.0)), Float(log(3.0)), 0]
        #expect(TokenSampler(temperature: 1, topK: 0, topP: 0.5, repetitionPenalty: 1).distribution(logits).map(\.token) == [0])
        #expect(TokenSampler(temperature: 1, topK: 0, topP: 0.85, repetitionPenalty: 1).distribution(logits).map(\.token) == [0, 1])
        #expect(TokenSampler(temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1).distribution(logits).count == 3)
    }

    @Test func samplingFollowsTheDistribution() {
        let sampler = TokenSampler(temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1)
        let logits: [Float] = [Float(log(6.0)), Float(log(3.0)), 0]
        var rng = SeededGenerator(seed: 11)
        var counts = [0, 0, 0]
        for _ in 0..<6000 { counts[sampler.sample(logits, history: [], using: &rng)] += 1 }
        #expect(abs(Double(counts[0]) / 6000 - 0.6) < 0.03)
        #expect(abs(Double(counts[1]) / 6000 - 0.3) < 0.03)
        #expect(abs(Double(counts[2]) / 6000 - 0.1) < 0.03)
    }

    @Test func lowerTemperatureSharpens() {
        let logits: [Float] = [2, 1, 0]
        let hot = TokenSampler(temperature: 2, topK: 0, topP: 1, repetitionPenalty: 1).distribution(logits)[0].probability
        let cold = TokenSampler(temperature: 0.5, topK: 0, topP: 1, repetitionPenalty: 1).distribution(logits)[0].probability
        #expect(cold > hot)
    }
}
