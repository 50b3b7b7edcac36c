import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxEngines

/// The KV cache on the language model's device (IO binding): `KVCacheGatherer`'s graph copies
/// positions exactly as the host copy does, and a batch that keeps its cache through IO binding,
/// repacking it with the graph, chooses the tokens each sentence chooses alone. On this machine the
/// device is the CPU; on a GPU the same graph and bindings keep the cache in GPU memory.
@Suite struct KVCacheGathererTests {
    static func runtime() throws -> ONNXRuntime { try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)) }

    /// A [rows, heads, positions, dim] value of distinct numbers (exact in float16 too).
    static func cache(rows: Int, positions: Int, heads: Int = 3, dim: Int = 4, type: TensorElementType, offset: Float) throws -> ONNXValue {
        let count = rows * heads * positions * dim
        let values = (0..<count).map { Float($0 % 1000) / 8 + offset }
        return try ONNXValue(try Tensor(floats: values, shape: [rows, heads, positions, dim], type: type), runtime: runtime())
    }

    @Test(arguments: [TensorElementType.float32, .float16])
    func theGraphCopiesPositionsAsTheHostDoes(type: TensorElementType) throws {
        let runtime = try Self.runtime()
        let batch = try Self.cache(rows: 3, positions: 7, type: type, offset: 0)
        let newcomer = try Self.cache(rows: 2, positions: 5, type: type, offset: 500)
        let session = try ONNXSession(modelData: KVCacheGatherer.graph(type: type, heads: 3, dim: 4).serialized(), name: "gather", runtime: runtime)
        // ONNX Runtime reads the graph VoxServe wrote as it was declared.
        #expect(session.inputs.map(\.name) == ["a", "b", "zero", "index"])
        #expect(session.inputs.map(\.elementType) == [type, type, type, .int64])
        #expect(session.outputs.map(\.name) == ["out"] && session.outputs[0].shape == [-1, 3, -1, 4])
        let gatherer = KVCacheGatherer(languageModel: session, device: .cpu)
        // A join: the batch's rows 0 and 2 (row 1 left), each with its own real length, then the
        // newcomer's two rows; padded on the left to 6 positions. Then one row with nothing.
        let pieces = [
            KVCachePositions.Piece(value: batch, row: 0, start: 1, count: 6),
            KVCachePositions.Piece(value: batch, row: 2, start: 4, count: 3),
            KVCachePositions.Piece(value: newcomer, row: 0, start: 0, count: 5),
            KVCachePositions.Piece(value: newcomer, row: 1, start: 2, count: 3),
            KVCachePositions.Piece(value: nil, row: 0, start: 0, count: 0),
        ]
        let host = try KVCachePositions.gather(pieces, length: 6, like: batch, name: "k", runtime: runtime)
        let device = try KVCachePositions.gather(pieces, length: 6, like: batch, name: "k", runtime: runtime, gatherer: gatherer)
        #expect(device.shape == [5, 3, 6, 4] && device.elementType == type)
        #expect(try device.tensor() == host.tensor())
        // The padding is zero and the real positions are not.
        let values = try device.tensor().floats()
        #expect(values[0..<(3 * 6 * 4)].contains { $0 != 0 })
        #expect(values[(4 * 3 * 6 * 4)...].allSatisfy { $0 == 0 })
        // One source only (a voice's prefix, repeated for two rows).
        let one = [KVCachePositions.Piece](repeating: .init(value: newcomer, row: 0, start: 0, count: 4), count: 2)
        #expect(try KVCachePositions.gather(one, length: 4, like: newcomer, name: "k", runtime: runtime, gatherer: gatherer).tensor()
                == KVCachePositions.gather(one, length: 4, like: newcomer, name: "k", runtime: runtime).tensor())
        #expect(gatherer.gathers == 2)
    }

    @Test func moreThanTwoSourcesAreRefused() throws {
        let runtime = try Self.runtime()
        let values = try (0..<3).map { try Self.cache(rows: 1, positions: 2, type: .float32, offset: Float($0)) }
        let session = try ONNXSession(modelData: KVCacheGatherer.graph(type: .float32, heads: 3, dim: 4).serialized(), name: "gather", runtime: runtime)
        let gatherer = KVCacheGatherer(languageModel: session, device: .cpu)
        let pieces = values.map { KVCachePositions.Piece(value: $0, row: 0, start: 0, count: 2) }
        #expect(throws: VoxError.self) { try gatherer.gather(pieces, length: 2, like: values[0], name: "k") }
    }

    static func bound(maxBatch: Int, cacheBytes: Int = 64 << 20) -> ChatterboxOptions {
        var options = ChatterboxPrefixCacheTests.options(maxBatch: maxBatch, cacheBytes: cacheBytes)
        options.ioBinding = true
        return options
    }

    /// Turbo: the batch runs through IO binding and repacks with the graph when sentences join and
    /// leave; the voice's prefix is kept by the graph too. Tokens equal the plain engine's alone.
    @Test func aBatchThroughIOBindingGivesTheTokensAlone() async throws {
        let reference = try ChatterboxFixtures.reference()
        let plain = try ChatterboxFixtures.engine(options: ChatterboxBatchTests.greedy(maxBatch: 1))
        let expected = try await ChatterboxBatchTests.alone(plain, texts: ChatterboxBatchTests.texts, reference: reference)
        let engine = try ChatterboxFixtures.engine(options: Self.bound(maxBatch: 4))
        let gatherer = try #require(engine.kvGatherer)
        #expect(plain.kvGatherer == nil)
        let warm = try await ChatterboxBatchTests.batched(engine, texts: [ChatterboxBatchTests.texts[0]], reference: reference)
        #expect(warm == [expected[0]])
        let afterWarm = gatherer.gathers
        // The prefix was kept with the graph: one gather per cache tensor.
        #expect(afterWarm == engine.layout.pastNames.count)
        let batched = try await ChatterboxBatchTests.batched(engine, texts: ChatterboxBatchTests.texts, reference: reference)
        #expect(batched == expected)
        let counters = try #require(engine.batcher).counters
        #expect(counters.joinsWhileDecoding >= 2)
        #expect(try #require(engine.prefixCache).counters.hits == ChatterboxBatchTests.texts.count)
        // Every join while decoding and every leave repacked every cache tensor on the "device".
        #expect(gatherer.gathers - afterWarm >= (counters.joinsWhileDecoding + 2) * engine.layout.pastNames.count)
    }

    /// The original model's guidance pairs, alone through IO binding (the prefix repeated for both
    /// rows by the graph) and batched.
    @Test func guidancePairsThroughIOBindingGiveTheTokensAlone() async throws {
        let reference = try ChatterboxFixtures.reference()
        let texts = Array(ChatterboxBatchTests.texts.prefix(3))
        let plain = try ChatterboxFixtures.engine("chatterbox-tiny-original", options: ChatterboxBatchTests.greedy(maxBatch: 1))
        let expected = try await ChatterboxBatchTests.alone(plain, texts: texts, reference: reference, maxNewTokens: 30)
        let engine = try ChatterboxFixtures.engine("chatterbox-tiny-original", options: Self.bound(maxBatch: 4))
        let alone = try await ChatterboxBatchTests.alone(engine, texts: texts, reference: reference, maxNewTokens: 30)
        #expect(alone == expected)
        let batched = try await ChatterboxBatchTests.batched(engine, texts: texts, reference: reference, maxNewTokens: 30)
        #expect(batched == expected)
        #expect(expected.filter { $0.count > 5 }.count >= 2, "\(expected.map(\.count))")
        #expect(try #require(engine.prefixCache).counters.hits == 2 * texts.count - 1)
        #expect(try #require(engine.batcher).counters.largestBatch >= 2)
    }
}
