import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxOptimizer

/// The pinned onnxruntime-gpu 1.31.1 as setup reads it (cuobjdump --list-elf / --list-ptx over
/// libonnxruntime_providers_cuda.so): cubins for six architectures, no PTX.
let pinnedArchitectureFile = """
    # cuobjdump over lib/libonnxruntime_providers_cuda.so: name kind images
    sm_75 cubin 217
    sm_80 cubin 308
    sm_86 cubin 308
    sm_89 cubin 308
    sm_90a cubin 600
    sm_120a cubin 317
    """

let pinnedBuild = ONNXRuntimeGPUBuild(
    cudaMajorVersion: 13, minimumComputeCapability: ComputeCapability(7, 5),
    architectures: ONNXRuntimeGPUBuild.parseArchitectures(pinnedArchitectureFile))

/// A GPU machine (Xeon 8480 host) with one GPU.
private func machine(_ name: String, _ major: Int, _ minor: Int, gib: UInt64 = 80) -> HardwareReport {
    Fixtures.machine(cpu: Fixtures.xeon8480, gpus: [Fixtures.gpu(name, major, minor, gib: gib)])
}

@Suite struct CUDAArchitectureTests {
    @Test func readsTheArchitectureFileSetupWrites() {
        let names = pinnedBuild.architectures?.map(\.name)
        #expect(names == ["sm_75", "sm_80", "sm_86", "sm_89", "sm_90a", "sm_120a"])
        #expect(ONNXRuntimeGPUBuild.parseArchitectures("compute_90\nsm_100f cubin\nnonsense\nsm_\n") .map(\.name) == ["compute_90", "sm_100f"])
        #expect(CUDAArchitecture("sm_90a")?.variant == .architectureSpecific)
        #expect(CUDAArchitecture("compute_120")?.kind == .ptx)
        #expect(CUDAArchitecture("sm_9x") == nil)
    }

    @Test("CUDA's compatibility rules: same-major cubins, exact 'a' cubins, forward PTX", arguments: [
        ("sm_86", 8, 6, true), ("sm_86", 8, 9, true), ("sm_86", 8, 0, false), ("sm_86", 9, 0, false),
        ("sm_90a", 9, 0, true), ("sm_90a", 10, 0, false), ("sm_120a", 12, 0, true), ("sm_120a", 12, 1, false),
        ("sm_100f", 10, 3, true), ("sm_100f", 11, 0, false), ("compute_90", 10, 0, true), ("compute_90", 8, 9, false),
        ("compute_90a", 10, 0, false),
    ])
    func compatibility(_ name: String, _ major: Int, _ minor: Int, _ runs: Bool) throws {
        let arch = try #require(CUDAArchitecture(name))
        #expect(arch.runs(on: ComputeCapability(major, minor)) == runs)
    }

    @Test("the pinned build: CUDA where it has code, CPU with the reason where it has none", arguments: [
        ("Tesla T4", 7, 5, true), ("NVIDIA A100-SXM4-80GB", 8, 0, true), ("NVIDIA Jetson AGX Orin", 8, 7, true),
        ("NVIDIA L4", 8, 9, true), ("NVIDIA H100 80GB HBM3", 9, 0, true), ("NVIDIA GeForce RTX 5090", 12, 0, true),
        ("NVIDIA B200", 10, 0, false), ("NVIDIA B300", 10, 3, false), ("NVIDIA Thor", 11, 0, false), ("NVIDIA GB10", 12, 1, false),
    ])
    func pinnedBuildPlans(_ name: String, _ major: Int, _ minor: Int, _ cuda: Bool) throws {
        let plan = try ExecutionPlanner(gpuBuild: pinnedBuild).plan(hardware: machine(name, major, minor), inventory: Fixtures.piper)
        #expect((plan.primary?.provider == .cuda) == cuda, "\(plan.reasons)")
        if cuda {
            #expect(plan.reasons[0].contains("the build carries machine code for sm_75"))
        } else {
            #expect(plan.reasons[0].contains("none of which runs on compute capability \(major).\(minor)"), "\(plan.reasons[0])")
            #expect(plan.reasons[0].contains("no PTX"))
            #expect(throws: VoxError.self) {
                try ExecutionPlanner(gpuBuild: pinnedBuild).plan(
                    hardware: machine(name, major, minor), inventory: Fixtures.piper, overrides: PlanOverrides(provider: .cuda))
            }
        }
    }

    @Test func aBuildWithPTXRunsOnNewerGPUs() throws {
        let build = ONNXRuntimeGPUBuild(
            cudaMajorVersion: 13, minimumComputeCapability: ComputeCapability(7, 5),
            architectures: ONNXRuntimeGPUBuild.parseArchitectures(pinnedArchitectureFile + "\ncompute_90 ptx 1"))
        let plan = try ExecutionPlanner(gpuBuild: build).plan(hardware: machine("NVIDIA B200", 10, 0), inventory: Fixtures.piper)
        #expect(plan.primary?.provider == .cuda)
    }

    @Test func withoutTheListOnlyTheMinimumIsCheckedAndThePlanSaysSo() throws {
        let plan = try ExecutionPlanner().plan(hardware: machine("NVIDIA B200", 10, 0), inventory: Fixtures.piper)
        #expect(plan.primary?.provider == .cuda)
        #expect(plan.reasons[0].contains("architectures were not read"))
    }

    @Test func ofTwoGPUsTheOneTheBuildRunsOnIsChosen() throws {
        let hardware = Fixtures.machine(cpu: Fixtures.xeon8480, gpus: [
            Fixtures.gpu("NVIDIA B200", 10, 0, gib: 180, index: 0), Fixtures.gpu("NVIDIA L4", 8, 9, gib: 24, index: 1),
        ])
        let plan = try ExecutionPlanner(gpuBuild: pinnedBuild).plan(hardware: hardware, inventory: Fixtures.piper)
        #expect(plan.primary?.label == "cuda:1 fp32")
    }
}

@Suite struct CUDADeviceMappingTests {
    private func nvml() -> GPUReport {
        GPUReport(devices: [
            GPUDevice(index: 0, name: "NVIDIA A100-SXM4-80GB", computeCapability: ComputeCapability(8, 0), memoryTotalBytes: 80 << 30,
                      memoryFreeBytes: nil, uuid: "GPU-aaaaaaaa-0000-0000-0000-000000000000", pciBusID: "00000000:07:00.0", cudaDeviceID: nil),
            GPUDevice(index: 1, name: "NVIDIA GeForce RTX 4090", computeCapability: ComputeCapability(8, 9), memoryTotalBytes: 24 << 30,
                      memoryFreeBytes: nil, uuid: "GPU-bbbbbbbb-0000-0000-0000-000000000000", pciBusID: "00000000:65:00.0", cudaDeviceID: nil),
        ], driverVersion: "580.65.06", cudaDriverVersion: 13000)
    }

    @Test func pciAddressesCompareByValue() {
        #expect(PCIBusID("00000000:65:00.0") == PCIBusID("0000:65:00.0"))
        #expect(PCIBusID("0000:3b:00.0") == PCIBusID("00000000:3B:00.0"))
        #expect(PCIBusID("0000:3b:00.0") != PCIBusID("0000:3c:00.0"))
        #expect(PCIBusID("3B:00.0")?.description == "00000000:3B:00.0")
        #expect(PCIBusID("garbage") == nil)
    }

    @Test("CUDA_VISIBLE_DEVICES=1: the 4090 is CUDA device 0 and the A100 is not CUDA's at all")
    func visibleDevicesRenumber() throws {
        let report = GPUDeviceMapping.assignCUDAOrdinals(nvml(), cuda: [CUDADriverDevice(ordinal: 0, pciBusID: "0000:65:00.0", uuid: nil)])
        #expect(report.devices.map(\.cudaDeviceID) == [nil, 0])
        #expect(report.cudaMappingNote?.contains("not visible to CUDA") == true)
        let plan = try ExecutionPlanner().plan(hardware: Fixtures.machineWith(report), inventory: Fixtures.piper)
        // NVML would have said 1; ONNX Runtime's device 1 does not exist in this process.
        #expect(plan.primary?.label == "cuda:0 fp32")
        #expect(plan.reasons[0].contains("RTX 4090"))
        #expect(throws: VoxError.self) {
            try ExecutionPlanner().plan(hardware: Fixtures.machineWith(report), inventory: Fixtures.piper, overrides: PlanOverrides(deviceIndex: 0))
        }
    }

    @Test("CUDA's fastest-first order: the A100 is CUDA device 1, found by UUID when PCI ids are missing")
    func reorderedByUUID() throws {
        let report = GPUDeviceMapping.assignCUDAOrdinals(nvml(), cuda: [
            CUDADriverDevice(ordinal: 0, pciBusID: nil, uuid: "GPU-bbbbbbbb-0000-0000-0000-000000000000"),
            CUDADriverDevice(ordinal: 1, pciBusID: nil, uuid: "GPU-AAAAAAAA-0000-0000-0000-000000000000"),
        ])
        #expect(report.devices.map(\.cudaDeviceID) == [1, 0])
        let plan = try ExecutionPlanner().plan(hardware: Fixtures.machineWith(report), inventory: Fixtures.piper)
        #expect(plan.primary?.label == "cuda:1 fp32", "the A100 (most memory) on its CUDA id, not its NVML index")
    }

    @Test("MIG: two CUDA devices on one GPU's PCI address; the first is used")
    func migInstances() {
        let report = GPUDeviceMapping.assignCUDAOrdinals(nvml(), cuda: [
            CUDADriverDevice(ordinal: 0, pciBusID: "0000:07:00.0", uuid: "MIG-1111"),
            CUDADriverDevice(ordinal: 1, pciBusID: "0000:07:00.0", uuid: "MIG-2222"),
            CUDADriverDevice(ordinal: 2, pciBusID: "0000:65:00.0", uuid: nil),
        ])
        #expect(report.devices.map(\.cudaDeviceID) == [0, 2])
        #expect(report.cudaMappingNote?.contains("MIG") == true)
    }

    @Test func whenCUDAHidesEveryGPUThePlanIsCPUAndSaysWhy() throws {
        let report = GPUDeviceMapping.assignCUDAOrdinals(nvml(), cuda: [])
        let plan = try ExecutionPlanner().plan(hardware: Fixtures.machineWith(report), inventory: Fixtures.piper)
        #expect(plan.primary?.provider == .cpu)
        #expect(plan.reasons[0].contains("CUDA sees none"))
    }
}

@Suite struct GPUMemoryBudgetTests {
    let inventory = ModelInventory(model: "sized", kind: .tokens, components: [
        ModelComponent(name: "language_model", variants: [ModelVariant(.fp16, bytes: 600 << 20), ModelVariant(.fp32, bytes: 1200 << 20)]),
        ModelComponent(name: "conditional_decoder", variants: [ModelVariant(.fp16, bytes: 200 << 20), ModelVariant(.fp32, bytes: 400 << 20)]),
    ])

    @Test func eachSessionGetsItsShareOfTheBudgetByWeightSize() throws {
        let hardware = Fixtures.machine(cpu: Fixtures.ryzen7950X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24)])
        let plan = try ExecutionPlanner().plan(
            hardware: hardware, inventory: inventory, overrides: PlanOverrides(gpuMemoryLimitBytes: 8 << 30, enginesSharingGPU: 2))
        let entry = try #require(plan.primary)
        #expect(entry.provider == .cuda)
        let lm = try #require(entry.gpuMemoryLimit(for: "language_model"))
        let decoder = try #require(entry.gpuMemoryLimit(for: "conditional_decoder"))
        #expect(lm + decoder <= 4 << 30 && lm + decoder > (4 << 30) - 16)
        #expect(lm == 3 * decoder)
        #expect(plan.reasons.contains { $0.contains("shared by 2 engines") && $0.contains("8.0 GiB set by the user") })
        #expect(plan.entries.filter { $0.provider == .cpu }.allSatisfy { $0.components.allSatisfy { $0.gpuMemoryLimitBytes == nil } })
    }

    @Test func aBudgetTooSmallForfp16LeavesTheGPU() throws {
        let hardware = Fixtures.machine(cpu: Fixtures.ryzen7950X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24)])
        // fp16 needs about 1.2 GiB with overhead; 4 engines share 2 GiB.
        let plan = try ExecutionPlanner().plan(
            hardware: hardware, inventory: inventory, overrides: PlanOverrides(gpuMemoryLimitBytes: 2 << 30, enginesSharingGPU: 4))
        #expect(plan.primary?.provider == .cpu)
        #expect(plan.reasons.contains { $0.contains("CUDA fp16 skipped") })
    }
}

@Suite struct WarmUpMeasurementPlanTests {
    let gpuMachine = Fixtures.machine(cpu: Fixtures.ryzen7950X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24)])

    @Test func piperOnAGPUIsMeasuredUnlessTheUserChose() throws {
        let plan = try ExecutionPlanner().plan(hardware: gpuMachine, inventory: Fixtures.piper)
        #expect(plan.measuredAtWarmUp == [0, 1])
        #expect(plan.reasons.contains { $0.contains("decided by measurement at warm-up") })
        for provider in ExecutionProvider.allCases {
            let forced = try ExecutionPlanner().plan(hardware: gpuMachine, inventory: Fixtures.piper, overrides: PlanOverrides(provider: provider))
            #expect(forced.measuredAtWarmUp == nil)
            #expect(forced.primary?.provider == provider)
        }
        #expect(try ExecutionPlanner().plan(hardware: gpuMachine, inventory: Fixtures.chatterbox).measuredAtWarmUp == nil)
        #expect(try ExecutionPlanner().plan(hardware: Fixtures.machine(cpu: Fixtures.ryzen7950X), inventory: Fixtures.piper).measuredAtWarmUp == nil)
    }

    @Test("the planned entry stays first unless another is at least 10% faster; failures are left out", arguments: [
        ([0.030, 0.010], 1), ([0.010, 0.030], 0), ([0.0100, 0.0095], 0), ([nil, 0.030], 1), ([0.02, nil], 0),
    ] as [([Double?], Int)])
    func choose(_ seconds: [Double?], _ chosen: Int) {
        let timings = seconds.enumerated().map { i, s in
            WarmUpMeasurement.Timing(entryIndex: i, entryLabel: "e\(i)", seconds: s, error: s == nil ? "failed" : nil)
        }
        #expect(WarmUpMeasurement.choose(timings) == chosen)
    }

    @Test func chatterboxOnCUDASaysWhyNoCUDAGraphRunsItsLanguageModel() throws {
        let plan = try ExecutionPlanner().plan(hardware: gpuMachine, inventory: Fixtures.chatterbox)
        let entry = try #require(plan.primary)
        #expect(entry.provider == .cuda)
        #expect(!entry.components.contains { $0.cudaGraph })
        #expect(entry.reasons.contains { $0.contains("language_model: no CUDA graph") && $0.contains("preallocated to the maximum length") })
        #expect(entry.reasons.contains { $0.contains("Node placement recorded at load") })
        #expect(!(plan.entries.last?.reasons.contains { $0.contains("Node placement") } ?? true), "CPU entries record nothing")
    }
}

@Suite struct RetryPolicyTests {
    @Test("out of memory is transient; a missing kernel image or library is not", arguments: [
        ("CUDA failure 2: out of memory ; GPU=0", FailureKind.transient),
        ("Failed to allocate memory for requested buffer of size 1073741824", .transient),
        ("BFCArena::AllocateRawInternal Available memory of 0 is smaller than requested bytes", .transient),
        ("CUBLAS_STATUS_ALLOC_FAILED", .transient),
        ("CUDA error cudaErrorNoKernelImageForDevice: no kernel image is available for execution on the device", .persistent),
        ("libcudnn.so.9: cannot open shared object file", .persistent),
    ])
    func kinds(_ message: String, _ kind: FailureKind) {
        #expect(FallbackPolicy.kind(of: VoxError.engineFailure(message)) == kind)
    }
}

extension Fixtures {
    static func machineWith(_ gpu: GPUReport) -> HardwareReport {
        HardwareReport(
            cpu: ryzen7950X, memory: MemoryReport(totalBytes: 64 * gib, availableBytes: 48 * gib), gpu: gpu, onnxRuntimeProviders: cudaProviders)
    }
}
