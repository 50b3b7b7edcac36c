import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxEngines

/// The language-model loop keeps its KV cache in ONNX Runtime between steps; these pin that it
/// still samples exactly what the loop that copied the cache through Swift sampled.
@Suite struct ChatterboxKVCacheTests {
    // Seed 1234. First computed with the loop that copied every present.* tensor into Swift and
    // back (commit f4de2f3), before the cache stayed in ONNX Runtime; computed again when the
    // fixtures began to model Turbo's template and embed_tokens' slice and the sampler took
    // upstream's orders (Turbo penalises after filtering; the original samples with min-p 0.05).
    static let turboTokens = [2164, 3952, 6286, 2733, 272, 2329, 467, 1835, 139, 5031, 5948, 4985, 1029, 3123, 2341, 613, 417, 31, 209, 6369, 6076, 4008, 693, 1157, 6001, 6022, 2988, 2984, 370, 275, 6451, 1113, 4052, 6392, 1854, 946, 3633, 6434, 5076, 5932, 2448, 5374, 323, 2147, 5855, 2992, 6100, 383, 4340, 2183, 5330, 5310, 6039, 935, 4947, 1251]
    static let fp16Tokens = [2164, 4835, 6113, 5310, 3428, 2267, 4419, 3859, 5408, 286, 5131, 631, 2960, 5378, 6284, 4166, 6085, 1035, 4850, 6238, 4412, 1874, 6122, 3177, 2677, 1786, 739, 1533, 663, 478, 1569, 2702, 1923, 6367, 3674, 6022, 6103, 2633, 2908, 5959, 3928, 5657, 6236, 3164, 57, 6246, 2210, 1685, 2101, 3194, 227, 810, 731, 5078, 6219, 386]
    static let originalTokens = [172, 982, 5986, 3693, 433, 141, 2946, 6187, 2887, 3556, 875, 1570, 861, 469, 474, 5944, 1894, 4008, 6019, 2497, 2779, 2822, 722, 5076, 35, 1958, 2884, 1213, 4632, 4899, 433, 3870, 469, 391, 4686, 1543, 2759, 3427, 5709, 2833, 4787, 3094, 5591, 4244, 2753, 2680]

    @Test func aFixedSeedGivesTheTokensTheCopyingLoopGave() async throws {
        let reference = try ChatterboxFixtures.reference()
        let turbo = try await ChatterboxFixtures.engine().speechTokens(for: "Hello world.", reference: reference, seed: 1234)
        #expect(turbo.tokens == Self.turboTokens)
        let fp16Engine = try ChatterboxFixtures.engine(variants: [.languageModel: .fp16])
        #expect(fp16Engine.layout.kvType == .float16)
        let fp16 = try await fp16Engine.speechTokens(for: "Hello world.", reference: reference, seed: 1234)
        #expect(fp16.tokens == Self.fp16Tokens)
        let original = try await ChatterboxFixtures.engine("chatterbox-tiny-original")
            .speechTokens(for: "Hello there.", reference: reference, seed: 1234)
        #expect(original.batchSize == 2)
        #expect(original.tokens == Self.originalTokens)
    }

    /// IO binding (what the plan turns on for CUDA) samples the same tokens; on this CPU-only
    /// machine the cache is bound to the host, which exercises the binding path itself.
    @Test func theIOBindingPathSamplesTheSameTokens() async throws {
        let reference = try ChatterboxFixtures.reference()
        var options = ChatterboxOptions()
        options.ioBinding = true
        let turbo = try await ChatterboxFixtures.engine(options: options).speechTokens(for: "Hello world.", reference: reference, seed: 1234)
        #expect(turbo.tokens == Self.turboTokens)
        #expect(turbo.cacheLengths.first == 0)
        let fp16 = try await ChatterboxFixtures.engine(variants: [.languageModel: .fp16], options: options)
            .speechTokens(for: "Hello world.", reference: reference, seed: 1234)
        #expect(fp16.tokens == Self.fp16Tokens)
    }

    @Test func aPresentValueOfTheDeclaredTypeIsFedBackAsItIs() throws {
        let runtime = try ONNXRuntime.shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment))
        let present = try ONNXValue(Tensor(float16: [0.5, -1.25, 3, 0], shape: [1, 1, 2, 2]), runtime: runtime)
        let fed = try ChatterboxGenerator.cacheValue(present, as: .float16, runtime: runtime)
        #expect(fed === present)
    }

    @Test func aPresentValueOfAnotherTypeIsConvertedToTheDeclaredOne() throws {
        let runtime = try ONNXRuntime.shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment))
        let present = try ONNXValue(Tensor(float32: [0.5, -1.25, 3, 0], shape: [1, 1, 2, 2]), runtime: runtime)
        let fed = try ChatterboxGenerator.cacheValue(present, as: .float16, runtime: runtime)
        #expect(fed !== present)
        #expect(fed.elementType == .float16)
        #expect(fed.shape == [1, 1, 2, 2])
        #expect(try fed.tensor().floats() == [0.5, -1.25, 3, 0])
    }
}
