import Foundation
import Testing
import VoxCore

/// `--provider`, `--gpu-memory-limit` and the GPU build's architectures in `doctor`, on a machine
/// without a GPU.
@Suite struct GPUOptionsTests {
    static var hasNVML: Bool { dlopen("libnvidia-ml.so.1", RTLD_NOW) != nil }

    @Test func forcingTheCPUSpeaksAndForcingCUDAWithoutAGPUSaysWhy() async throws {
        let cli = try CLI()
        let cpu = try await cli.run(["speak", "Hello there.", "-o", cli.file("cpu.wav").path, "--provider", "cpu"])
        #expect(cpu.status == 0, "\(cpu.stderr)")
        guard !Self.hasNVML else { return }
        let cuda = try await cli.run(["speak", "Hello there.", "-o", cli.file("cuda.wav").path, "--provider", "cuda"])
        #expect(cuda.status != 0)
        #expect(cuda.stderr.contains("CUDA was requested, but there is no usable NVIDIA GPU"), "\(cuda.stderr)")
    }

    @Test func badValuesAreRefusedBeforeAnythingLoads() async throws {
        let cli = try CLI()
        let size = try await cli.run(["speak", "Hi.", "-o", cli.file("a.wav").path, "--gpu-memory-limit", "lots"])
        #expect(size.status != 0 && size.stderr.contains("--gpu-memory-limit must be a size"), "\(size.stderr)")
        let provider = try await cli.run(["speak", "Hi.", "-o", cli.file("a.wav").path, "--provider", "tpu"])
        #expect(provider.status != 0 && provider.stderr.contains("provider"), "\(provider.stderr)")
        let env = try await cli.run(["speak", "Hi.", "-o", cli.file("a.wav").path], environment: ["VOXSERVE_PROVIDER": "tpu"])
        #expect(env.status != 0 && env.stderr.contains("VOXSERVE_PROVIDER must be cpu or cuda"), "\(env.stderr)")
    }

    @Test func doctorShowsTheArchitecturesOfAnInstalledGPUBuild() async throws {
        let cli = try CLI()
        let real = try #require(VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory)
        // A deps folder like setup's, with a GPU build whose library is the CPU one (nothing loads it here).
        let deps = cli.file("deps")
        try FileManager.default.createDirectory(at: deps, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: real.path) where name != "onnxruntime-gpu" {
            try FileManager.default.createSymbolicLink(at: deps.appendingPathComponent(name), withDestinationURL: real.appendingPathComponent(name))
        }
        let gpuLib = deps.appendingPathComponent("onnxruntime-gpu/lib")
        try FileManager.default.createDirectory(at: gpuLib, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            at: gpuLib.appendingPathComponent("libonnxruntime.so.1"), withDestinationURL: real.appendingPathComponent("onnxruntime/lib/libonnxruntime.so.1"))
        try "sm_80 cubin 308\nsm_90a cubin 600\nsm_120a cubin 317\n".write(
            to: deps.appendingPathComponent("onnxruntime-gpu/cuda-architectures.txt"), atomically: true, encoding: .utf8)
        let result = try await cli.run(["doctor", "--json"], environment: ["VOXSERVE_DEPS": deps.path])
        let report = try DoctorCommandTests.json(result)
        let gpuRuntime = try #require(report["gpuRuntime"] as? [String: Any])
        #expect(gpuRuntime["installed"] as? Bool == true)
        #expect(gpuRuntime["architectures"] as? [String] == ["sm_80", "sm_90a", "sm_120a"])
        let text = try await cli.run(["doctor"], environment: ["VOXSERVE_DEPS": deps.path])
        #expect(text.stdout.contains("kernels       sm_80 sm_90a sm_120a"), "\(text.stdout)")
    }
}
