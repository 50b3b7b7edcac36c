import Foundation
import Testing
import VoxCore
import VoxONNX
import VoxOptimizer
@testable import VoxRuntime

@Suite struct RuntimeConfigurationTests {
    @Test func theEnvironmentIsMappedInOnePlace() {
        let configuration = RuntimeConfiguration.fromEnvironment([
            "VOXSERVE_HOME": "/srv/vox", "VOXSERVE_CACHE_DIR": "/var/cache/vox", "VOXSERVE_DEPS": "/opt/vox/deps",
            "VOXSERVE_ORT_LIBRARY": "/opt/ort/libonnxruntime.so.1", "VOXSERVE_CHATTERBOX_DIR": "/models/cbx",
            "VOXSERVE_OPTIMIZE": "0", "VOXSERVE_API_KEY": "secret",
        ])
        #expect(configuration.paths.home.path == "/srv/vox")
        #expect(configuration.paths.cacheDirectory.path == "/var/cache/vox")
        #expect(configuration.paths.depsDirectory?.path == "/opt/vox/deps")
        #expect(configuration.paths.chatterboxDirectory.path == "/models/cbx")
        #expect(!configuration.optimize)
        #expect(configuration.apiKey == "secret")
        // The explicit library is tried first, before setup's builds.
        #expect(configuration.paths.onnxRuntimeLibraryCandidates(preferGPU: false).map(\.path) == [
            "/opt/ort/libonnxruntime.so.1", "/opt/vox/deps/onnxruntime/lib/libonnxruntime.so.1",
        ])
    }

    @Test func maxBatchComesFromTheEnvironmentAndNonsenseIsIgnored() {
        #expect(RuntimeConfiguration.fromEnvironment(["VOXSERVE_MAX_BATCH": "3"]).overrides.maxBatch == 3)
        #expect(RuntimeConfiguration.fromEnvironment(["VOXSERVE_MAX_BATCH": "1"]).overrides.maxBatch == 1)
        #expect(RuntimeConfiguration.fromEnvironment(["VOXSERVE_MAX_BATCH": "0"]).overrides.maxBatch == nil)
        #expect(RuntimeConfiguration.fromEnvironment(["VOXSERVE_MAX_BATCH": "lots"]).overrides.maxBatch == nil)
        #expect(RuntimeConfiguration.fromEnvironment([:]).overrides.maxBatch == nil)
        // Never set from the environment: a bench-only serve option.
        #expect(RuntimeConfiguration.fromEnvironment([:]).benchMaxNewTokens == nil)
    }

    @Test func defaultsFollowTheHome() {
        let configuration = RuntimeConfiguration.fromEnvironment(["VOXSERVE_HOME": "/srv/vox", "VOXSERVE_DEPS": "/opt/vox/deps", "VOXSERVE_API_KEY": ""])
        #expect(configuration.paths.cacheDirectory.path == "/srv/vox/cache")
        #expect(configuration.paths.chatterboxDirectory.path == "/srv/vox/models/chatterbox")
        #expect(configuration.optimize)
        #expect(configuration.apiKey == nil)
    }
}

@Suite struct PlanToSessionOptionsTests {
    @Test func everySessionSettingOfACUDAEntryComesFromThePlan() {
        let entry = PlanEntry(
            provider: .cuda, deviceIndex: 1,
            components: [ComponentPlan(name: .languageModel, precision: .fp16, cudaGraph: true), ComponentPlan(name: .speechEncoder, precision: .fp32)],
            intraOpThreads: 3, interOpThreads: 2, graphOptimization: .extended, cudnnConvAlgoSearch: .exhaustive)
        let lm = OptimizedModelFile.sessionOptions(for: entry, component: .languageModel)
        #expect(lm.provider == .cuda && lm.deviceID == 1)
        #expect(lm.cudaGraph)
        #expect(lm.cudnnConvAlgoSearch == .exhaustive)
        #expect(lm.intraOpThreads == 3 && lm.interOpThreads == 2)
        #expect(lm.graphOptimizationLevel == .extended)
        #expect(!OptimizedModelFile.sessionOptions(for: entry, component: .speechEncoder).cudaGraph)
    }

    @Test func aCPUEntryGetsACPUSession() {
        let entry = PlanEntry(provider: .cpu, components: [ComponentPlan(name: .piperModel, precision: .fp32)], intraOpThreads: 2)
        let options = OptimizedModelFile.sessionOptions(for: entry, component: .piperModel)
        #expect(options.provider == .cpu && !options.cudaGraph && options.intraOpThreads == 2)
    }
}
