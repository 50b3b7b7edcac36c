import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxEngines

/// What the Chatterbox engine does for the CUDA path, checked on the CPU: a warm-up that runs
/// every graph, inputs in the types the graphs declare, and CUDA graphs refused for the decode loop.
@Suite struct ChatterboxGPUPathTests {
    @Test func warmUpRunsEveryGraphWithoutTouchingTheVoiceStore() async throws {
        let store = CountingConditioningStore()
        let engine = try ChatterboxFixtures.engine(store: store)
        let samples = try await engine.warmUp(steps: 4)
        #expect(samples > 0)
        #expect(await store.lookups == 0, "the made-up voice is not stored")
        #expect(engine.speechEncoderRuns == 0)
    }

    @Test func warmUpRunsTheOriginalModelWithGuidanceToo() async throws {
        let engine = try ChatterboxFixtures.engine("chatterbox-tiny-original")
        #expect(try await engine.warmUp(steps: 3) > 0)
    }

    @Test("exaggeration is sent in the type the embedder declares", arguments: [TensorElementType.float32, .float16, .double])
    func exaggerationType(_ type: TensorElementType) throws {
        let tensor = try ChatterboxGenerator.exaggerationTensor(0.7, batch: 2, type: type)
        #expect(tensor.elementType == type)
        #expect(tensor.shape == [2])
        #expect(tensor.floats().allSatisfy { abs($0 - 0.7) < 1e-3 })
    }

    @Test func theOriginalExportsExaggerationInputTypeIsUsed() throws {
        let engine = try ChatterboxFixtures.engine("chatterbox-tiny-original")
        let declared = try #require(engine.embedTokens.input(named: "exaggeration")?.elementType)
        #expect(try ChatterboxGenerator.exaggerationTensor(0.5, batch: 1, type: declared).elementType == declared)
    }

    @Test func cudaGraphsOnTheLanguageModelAreRefused() throws {
        let directory = try ChatterboxFixtures.directory()
        let runtime = try ONNXRuntime.shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment))
        let error = #expect(throws: VoxError.self) {
            try ChatterboxEngine(
                files: try ChatterboxModelFiles(directory: directory), componentSessionOptions: [.languageModel: SessionOptions(cudaGraph: true)],
                runtime: runtime)
        }
        #expect(error?.kind == .unsupported)
        #expect(error?.message.contains("KV cache grows") == true)
    }

    @Test func recordedPlacementIsReportedPerGraph() throws {
        let directory = try ChatterboxFixtures.directory()
        let runtime = try ONNXRuntime.shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment))
        let engine = try ChatterboxEngine(files: try ChatterboxModelFiles(directory: directory), sessionOptions: SessionOptions(recordPlacement: true), runtime: runtime)
        #expect(Set(engine.sessionPlacements.keys) == ["speech_encoder", "embed_tokens", "language_model", "conditional_decoder"])
        #expect(engine.sessionPlacements.values.allSatisfy { $0.nodes(on: .cpu) > 0 })
    }
}
