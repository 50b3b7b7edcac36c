import Foundation
import Testing
import VoxCore
import VoxONNX
import VoxOptimizer
@testable import VoxRuntime

@Suite struct GPUConfigurationTests {
    @Test func providerAndGPUMemoryLimitComeFromTheEnvironment() {
        let configuration = RuntimeConfiguration.fromEnvironment(["VOXSERVE_PROVIDER": "CUDA", "VOXSERVE_GPU_MEMORY_LIMIT": "6G"])
        #expect(configuration.overrides.provider == .cuda)
        #expect(configuration.overrides.gpuMemoryLimitBytes == 6 << 30)
        let unset = RuntimeConfiguration.fromEnvironment(["VOXSERVE_PROVIDER": "tpu", "VOXSERVE_GPU_MEMORY_LIMIT": "lots"])
        #expect(unset.overrides.provider == nil && unset.overrides.gpuMemoryLimitBytes == nil)
    }

    @Test("sizes in binary units", arguments: [
        ("6G", UInt64(6) << 30), ("6GiB", UInt64(6) << 30), ("512M", UInt64(512) << 20), ("1.5g", UInt64(3) << 29), ("1048576", UInt64(1) << 20),
        ("2T", UInt64(2) << 40), ("64kb", UInt64(64) << 10),
    ])
    func byteSizes(_ text: String, _ bytes: UInt64) {
        #expect(RuntimeConfiguration.parseByteSize(text) == bytes)
    }

    @Test(arguments: ["", "0", "-1G", "G", "six", "1e400"])
    func badSizes(_ text: String) {
        #expect(RuntimeConfiguration.parseByteSize(text) == nil)
    }

    @Test func theFactoryReadsTheArchitecturesSetupWroteBesideTheGPUBuild() throws {
        let deps = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-gpu-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: deps) }
        let gpu = deps.appendingPathComponent("onnxruntime-gpu")
        try FileManager.default.createDirectory(at: gpu.appendingPathComponent("lib"), withIntermediateDirectories: true)
        let configuration = RuntimeConfiguration(paths: VoxPaths(home: deps, depsDirectory: deps))
        let factory = SynthesizerFactory(configuration: configuration, phonemizer: NoPhonemizer())
        #expect(factory.gpuBuild.architectures == nil)
        try "# cuobjdump\nsm_80 cubin 308\nsm_90a cubin 600\n".write(
            to: gpu.appendingPathComponent(ONNXRuntimeGPUBuild.architecturesFileName), atomically: true, encoding: .utf8)
        #expect(factory.gpuBuild.architectures?.map(\.name) == ["sm_80", "sm_90a"])
        #expect(!factory.gpuBuild.support(for: ComputeCapability(10, 0)).supported)
    }

    @Test func aCUDAEntrysSessionsRecordPlacementAndCarryTheirMemoryLimit() {
        let entry = PlanEntry(
            provider: .cuda, deviceIndex: 0,
            components: [ComponentPlan(name: .languageModel, precision: .fp16, gpuMemoryLimitBytes: 3 << 30)], intraOpThreads: 2)
        let options = OptimizedModelFile.sessionOptions(for: entry, component: .languageModel)
        #expect(options.gpuMemoryLimitBytes == 3 << 30)
        #expect(options.arenaExtendStrategy == .sameAsRequested)
        #expect(options.recordPlacement)
        let cpu = OptimizedModelFile.sessionOptions(
            for: PlanEntry(provider: .cpu, components: [ComponentPlan(name: .piperModel, precision: .fp32)], intraOpThreads: 2), component: .piperModel)
        #expect(!cpu.recordPlacement && cpu.gpuMemoryLimitBytes == nil)
    }
}

/// A phonemizer for factories that never speak.
private struct NoPhonemizer: Phonemizer {
    func sentencePhonemes(for text: String, voice: String) async throws -> [String] { [] }
}
