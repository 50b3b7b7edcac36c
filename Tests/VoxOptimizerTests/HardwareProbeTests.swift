import Foundation
import Testing
import VoxONNX
@testable import VoxOptimizer

#if canImport(Glibc)
import Glibc
#endif

@Suite struct HardwareProbeTests {
    @Test("probing this machine finds its CPU and memory, and GPUs or the reason there are none")
    func probeThisMachine() throws {
        let report = HardwareProbe().probe(onnxRuntimeProviders: ["CPUExecutionProvider"])
        #expect(report.cpu.logicalCores >= 1)
        #expect(report.cpu.physicalCores >= 1 && report.cpu.physicalCores <= report.cpu.logicalCores)
        #expect(report.cpu.usableCores >= 1 && report.cpu.usableCores <= ProcessInfo.processInfo.activeProcessorCount)
        #expect(report.cpu.modelName != "unknown CPU")
        #expect(report.memory.totalBytes > 0 && report.memory.availableBytes <= report.memory.totalBytes)
        #expect(report.onnxRuntimeProviders == ["CPUExecutionProvider"])
        #expect(report.gpu.devices.isEmpty == (report.gpu.unavailableReason != nil))

        // Decide independently whether the driver is here, and check the probe agrees.
        let driver = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL)
        defer { if let driver { dlclose(driver) } }
        if driver == nil {
            let reason = try #require(report.gpu.unavailableReason)
            #expect(reason.hasPrefix("libnvidia-ml.so.1 not found: no NVIDIA driver installed"))
        } else {
            for device in report.gpu.devices {
                #expect(device.computeCapability >= ComputeCapability(3, 0))
                #expect(device.memoryTotalBytes > 0)
            }
        }

        // The report survives JSON, as `voxserve doctor --json` prints it.
        let decoded = try JSONDecoder().decode(HardwareReport.self, from: JSONEncoder().encode(report))
        #expect(decoded == report)
    }

    @Test("a missing NVML library is a normal answer with its reason")
    func missingNVML() {
        let report = HardwareProbe(nvmlLibraryName: "libnvidia-ml-absent.so.9").probeGPU()
        #expect(report.devices.isEmpty)
        #expect(report.unavailableReason?.hasPrefix("libnvidia-ml-absent.so.9 not found: no NVIDIA driver installed") == true)
    }

    @Test("a library that is not NVML is reported as lacking its functions")
    func notNVML() {
        let report = HardwareProbe(nvmlLibraryName: "libm.so.6").probeGPU()
        #expect(report.devices.isEmpty)
        #expect(report.unavailableReason?.contains("lacks the NVML functions") == true)
    }

    @Test("probing a fake /proc and /sys tree honours topology, affinity and cgroup limits")
    func fakeTree() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-probe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        func write(_ path: String, _ text: String) throws {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try write("proc/cpuinfo", Fixtures.epycCPUInfo)
        try write("proc/meminfo", Fixtures.meminfo)
        try write("proc/self/status", "Name:\tvoxserve\nCpus_allowed_list:\t0,4,5\n")
        try write("sys/devices/system/cpu/online", "0-7\n")
        for cpu in 0..<8 {
            try write("sys/devices/system/cpu/cpu\(cpu)/topology/core_cpus_list", "\(cpu % 4),\(cpu % 4 + 4)\n")
        }
        try write("sys/fs/cgroup/cpu.max", "150000 100000\n")
        try write("sys/fs/cgroup/memory.max", "4294967296\n")

        let probe = HardwareProbe(rootDirectory: root.path, nvmlLibraryName: "libnvidia-ml-absent.so.9")
        let report = probe.probe(onnxRuntimeProviders: ["CPUExecutionProvider"])
        #expect(report.cpu.modelName == "AMD EPYC 7742 64-Core Processor")
        #expect(report.cpu.logicalCores == 8)
        #expect(report.cpu.physicalCores == 4)
        #expect(report.cpu.allowedLogicalCores == 3)
        #expect(report.cpu.allowedPhysicalCores == 2)  // CPUs 0 and 4 share a core, 5 is another
        #expect(report.cpu.cpuQuota == 1.5)
        #expect(report.cpu.usableCores == 1)
        #expect(report.cpu.features.avx2 && !report.cpu.features.avx512f)
        #expect(report.memory.totalBytes == 65_839_012 * 1024)
        #expect(report.memory.cgroupLimitBytes == 4_294_967_296)
        #expect(report.memory.usableBytes == 4_294_967_296)
        #expect(report.gpu.devices.isEmpty)
    }
}
