import Foundation
import Testing
import VoxCore
import CONNXRuntime
@testable import VoxONNX

private let paths = VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment)

private func fixture(_ name: String) throws -> String {
    let deps = try #require(paths.depsDirectory, "run `make test` (setup) first: no .deps folder found")
    return deps.appendingPathComponent("test-models/\(name)").path
}

/// The CUDA session settings and the node-placement report, checked without a GPU: the provider
/// options as they are handed to ONNX Runtime, and the placement ONNX Runtime logs for a real
/// (CPU) session and for log text as a CUDA session prints it.
@Suite struct GPUPathTests {
    @Test func cudaProviderOptionsCarryTheMemoryLimitAndArenaStrategy() {
        var options = SessionOptions(provider: .cuda, deviceID: 2, gpuMemoryLimitBytes: 3 * 1_073_741_824)
        var pairs = Dictionary(uniqueKeysWithValues: options.cudaProviderOptions.map { ($0.key, $0.value) })
        #expect(pairs["device_id"] == "2")
        #expect(pairs["gpu_mem_limit"] == "3221225472")
        #expect(pairs["arena_extend_strategy"] == "kSameAsRequested")
        #expect(pairs["enable_cuda_graph"] == "0")
        #expect(pairs["cudnn_conv_algo_search"] == "HEURISTIC")

        options.gpuMemoryLimitBytes = nil
        options.arenaExtendStrategy = .nextPowerOfTwo
        options.cudaGraph = true
        pairs = Dictionary(uniqueKeysWithValues: options.cudaProviderOptions.map { ($0.key, $0.value) })
        #expect(pairs["gpu_mem_limit"] == nil)
        #expect(pairs["arena_extend_strategy"] == "kNextPowerOfTwo")
        #expect(pairs["enable_cuda_graph"] == "1")
    }

    @Test func aRealSessionReportsWhereItsNodesRun() throws {
        let runtime = try ONNXRuntime.shared(paths: paths)
        let recorded = try ONNXSession(modelPath: try fixture("basic_ops.onnx"), options: SessionOptions(recordPlacement: true), runtime: runtime)
        let placement = try #require(recorded.placement)
        #expect(placement.nodes(on: .cpu) > 0, "ONNX Runtime logged no placement: \(placement)")
        #expect(placement.totalNodes == placement.nodes(on: .cpu))
        #expect(placement.memcpyNodes == 0)
        #expect(placement.summary.contains("nodes on CPU"))

        let plain = try ONNXSession(modelPath: try fixture("basic_ops.onnx"), runtime: runtime)
        #expect(plain.placement == nil)
        // Recording does not change what the session computes.
        let feeds: [String: Tensor] = [
            "x": Tensor(float32: [1, 2, 3, 4, 5, 6], shape: [2, 3]), "ids": Tensor(int64: [41, -1, 0], shape: [3]),
            "half": Tensor(float16: [0.5, -2], shape: [2]),
        ]
        #expect(try recorded.run(feeds)["y"]?.floats() == plain.run(feeds)["y"]?.floats())
    }

    @Test func aPartlyCPUSessionIsReportedWithItsCPUNodesAndCopies() {
        // What ONNX Runtime 1.2x logs for a CUDA session that left shape operators on the CPU.
        let lines = [
            "3 Memcpy nodes are added to the graph main_graph for CUDAExecutionProvider. It might have negative impact on performance (including unable to run CUDA graph). Set session_options.log_severity_level=1 to see the detail logs before this message.",
            "Node placements",
            " Node(s) placed on [CUDAExecutionProvider]. Number of nodes: 140",
            "  MemcpyFromHost (Memcpy)",
            "  MemcpyFromHost (Memcpy_1)",
            "  MemcpyToHost (Memcpy_token_2)",
            "  Conv (/dec/conv_pre/Conv)",
            " Node(s) placed on [CPUExecutionProvider]. Number of nodes: 4",
            "  Shape (/Shape)",
            "  Gather (/Gather)",
            "  Shape (/Shape_1)",
            "  NonZero (/NonZero)",
            "Some nodes were not assigned to the preferred execution providers which may or may not have an negative impact on performance. e.g. ORT explicitly assigns shape related ops to CPU to improve perf.",
            "Node placements",
            "All nodes placed on [CUDAExecutionProvider]. Number of nodes: 6",
        ]
        let placement = SessionPlacement.parse(lines)
        #expect(placement.nodes(on: .cuda) == 146)
        #expect(placement.nodes(on: .cpu) == 4)
        #expect(placement.memcpyNodes == 3)
        #expect(placement.cpuOperators == ["Shape", "Gather", "NonZero"])
        #expect(placement.warnings.count == 2)
        #expect(placement.summary == "146 of 150 nodes on CUDA, 4 on CPU (CPU: Shape, Gather, NonZero), 3 Memcpy nodes")
        #expect(SessionPlacement.parse([]).isEmpty)
    }

    @Test func aValueInGPUMemoryIsNotReadFromTheHost() throws {
        let runtime = try ONNXRuntime.shared(paths: paths)
        let host = try ONNXValue(Tensor(float32: [1, 2], shape: [2]), runtime: runtime)
        #expect(!host.isOnDevice)
        #expect(try host.tensor().floats() == [1, 2])

        // The same OrtValue, as if an output had been bound to CUDA.
        let source = try ONNXValue(Tensor(float32: [1, 2], shape: [2]), runtime: runtime)
        var value: OpaquePointer?
        var allocator: UnsafeMutablePointer<OrtAllocator>?
        try runtime.check(runtime.api.pointee.GetAllocatorWithDefaultOptions(&allocator))
        let shape: [Int64] = [2]
        try shape.withUnsafeBufferPointer { try runtime.check(runtime.api.pointee.CreateTensorAsOrtValue(allocator, $0.baseAddress, 1, source.elementType.raw, &value)) }
        let device = try ONNXValue(taking: try #require(value), runtime: runtime, producer: nil, onDevice: true)
        #expect(device.isOnDevice)
        let error = #expect(throws: ONNXRuntimeError.self) { try device.tensor() }
        #expect(error?.message.contains("GPU memory") == true)
    }
}

/// The bundle's run script links the machine's CUDA libraries where VoxONNX preloads them from: its
/// list must be VoxONNX's, in the same folders.
@Suite struct GPUBundleScriptTests {
    @Test func theBundleLinksExactlyTheLibrariesVoxONNXPreloads() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/gpu-bundle-run.sh")
        let text = try String(contentsOf: script, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("SONAMES=") })
        let listed = line.dropFirst("SONAMES=\"".count).dropLast().split(separator: " ").map(String.init)
        #expect(listed == CUDALibraries.loadOrder.map { "\($0.folder)/\($0.soname)" })
    }
}
