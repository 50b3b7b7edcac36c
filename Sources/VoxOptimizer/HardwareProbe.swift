import Foundation

/// Reads what the execution planner needs from the machine: CPU model, cores and vector extensions
/// (/proc/cpuinfo, sysfs topology, the affinity mask, cgroup quotas), memory (/proc/meminfo, cgroup
/// limit) and NVIDIA GPUs (NVML, loaded at run time so that machines without a driver work).
///
/// Probing reads a handful of small files and, when the driver is there, initialises NVML once:
/// call it at start-up, not per request.
public struct HardwareProbe: Sendable {
    /// Where /proc and /sys are found; "/" except in tests that lay out a fake tree.
    public var rootDirectory: String
    /// The NVML library to dlopen.
    public var nvmlLibraryName: String

    public init(rootDirectory: String = "/", nvmlLibraryName: String = "libnvidia-ml.so.1") {
        self.rootDirectory = rootDirectory
        self.nvmlLibraryName = nvmlLibraryName
    }

    /// Probes the machine. `onnxRuntimeProviders` is ONNX Runtime's list of available execution
    /// providers, which the caller asks ONNX Runtime for.
    public func probe(onnxRuntimeProviders: [String]) -> HardwareReport {
        HardwareReport(cpu: probeCPU(), memory: probeMemory(), gpu: probeGPU(), onnxRuntimeProviders: onnxRuntimeProviders)
    }

    public func probeCPU() -> CPUReport {
        let info = read("proc/cpuinfo").map(ProcCPUInfo.init(parsing:))
            ?? ProcCPUInfo(modelName: "unknown CPU", vendor: nil, logicalCores: 1, physicalCores: 1, flags: [])
        let systemCount = max(1, ProcessInfo.processInfo.processorCount)

        let online = read("sys/devices/system/cpu/online").map(Self.parseCPUList) ?? []
        let logicalIDs = online.isEmpty ? Array(0..<max(info.logicalCores, systemCount)) : online
        var siblings: [Int: String] = [:]
        for cpu in logicalIDs {
            let topology = "sys/devices/system/cpu/cpu\(cpu)/topology/"
            if let list = read(topology + "core_cpus_list") ?? read(topology + "thread_siblings_list") { siblings[cpu] = list }
        }
        let allowed = read("proc/self/status").flatMap(Self.parseAllowedCPUs(status:)).map(Set.init)
            .map { $0.intersection(logicalIDs) }.flatMap { $0.isEmpty ? nil : $0 }

        let physical: Int
        let allowedPhysical: Int
        if siblings.count == logicalIDs.count, !siblings.isEmpty {
            physical = Self.countPhysicalCores(siblingLists: siblings)
            allowedPhysical = Self.countPhysicalCores(siblingLists: siblings, allowed: allowed)
        } else {
            // No topology in sysfs (some containers): scale cpuinfo's ratio to the allowed CPUs.
            physical = info.physicalCores
            let threadsPerCore = max(1, info.logicalCores / max(1, info.physicalCores))
            allowedPhysical = allowed.map { max(1, $0.count / threadsPerCore) } ?? physical
        }
        return CPUReport(
            modelName: info.modelName, vendor: info.vendor, physicalCores: max(1, physical), logicalCores: logicalIDs.count,
            allowedLogicalCores: allowed?.count ?? logicalIDs.count, allowedPhysicalCores: max(1, min(allowedPhysical, physical)),
            cpuQuota: cgroupCPUQuota(), features: SIMDFeatures(flags: info.flags)
        )
    }

    public func probeMemory() -> MemoryReport {
        var report = read("proc/meminfo").flatMap(Self.parseMemInfo) ?? MemoryReport(totalBytes: 0, availableBytes: 0)
        report.cgroupLimitBytes = (read("sys/fs/cgroup/memory.max") ?? read("sys/fs/cgroup/memory/memory.limit_in_bytes"))
            .flatMap(Self.parseCgroupMemoryLimit)
        return report
    }

    /// Asks NVML for the NVIDIA GPUs. Never throws: a missing driver or GPU is a report with a reason.
    public func probeGPU() -> GPUReport {
        NVMLLibrary.probe(libraryName: nvmlLibraryName)
    }

    private func cgroupCPUQuota() -> Double? {
        if let v2 = read("sys/fs/cgroup/cpu.max") { return Self.parseCgroupCPUMax(v2) }
        if let quota = read("sys/fs/cgroup/cpu/cpu.cfs_quota_us") ?? read("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"),
            let period = read("sys/fs/cgroup/cpu/cpu.cfs_period_us") ?? read("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us")
        {
            return Self.parseCgroupV1CPUQuota(quota: quota, period: period)
        }
        return nil
    }

    /// Reads a small text file below `rootDirectory`; nil when it does not exist or cannot be read.
    private func read(_ relativePath: String) -> String? {
        let path = (rootDirectory.hasSuffix("/") ? rootDirectory : rootDirectory + "/") + relativePath
        // /proc and /sys files report size 0, so read through FileHandle rather than by size.
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
