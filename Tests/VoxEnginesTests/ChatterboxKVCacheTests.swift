import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxEngines

/// The language-model loop keeps its KV cache in ONNX Runtime between steps; these pin that it
/// still samples exactly what the loop that copied the cache through Swift sampled.
@Suite struct ChatterboxKVCacheTests {
    // Seed 1234, computed with the loop that copied every present.* tensor into Swift and back
    // (commit f4de2f3), before the cache stayed in ONNX Runtime.
    static let turboTokens = [5232, 4781, 3085, 2109, 21, 4402, 2753, 135, 1401, 2278, 4857, 5740, 3727, 3786, 2575, 2650, 723, 6357, 4856, 502, 3533, 5258, 1208, 4208, 6384, 3969, 2767, 1672, 1066, 5520, 4341, 5432, 867, 4167, 5065, 3036, 1745, 4951, 4608, 5572, 5574, 2700, 5889, 1040, 3640, 2424, 5562, 5524, 2868, 5954, 2177, 3477, 638, 5483, 2727, 2817, 2422, 2110]
    static let fp16Tokens = [5232, 4781, 3085, 2109, 21, 5651, 4194, 3093, 4972, 905, 5772, 6019, 750, 1848, 1852, 5847, 5492, 5950, 3195, 3256, 3221, 2771, 6552, 3159, 3786, 524, 4949, 801, 2070, 6200, 842, 4875, 3873, 5239, 564, 3040, 5398, 2951, 3580, 3591, 4542, 1893, 5753, 3342, 5299, 528, 3970, 2295, 6165, 84, 4273, 1778, 4957, 4154, 2213, 1220, 6123, 1735]
    static let originalTokens = [172, 3666, 5669, 5341, 4847, 659, 469, 433, 6519, 2990, 3991, 2648, 3048, 2887, 3556, 467, 3530, 5835, 4740, 2513, 4488, 3266, 4244, 2753, 1134, 4054, 6260, 2223, 1528, 919, 3195, 910, 3750, 1373, 3257, 3218, 3427, 1110, 312, 1637, 1175, 4655, 4649, 704, 6140, 4918, 1958]

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
