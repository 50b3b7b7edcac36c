import Foundation
import VoxONNX

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

    /// Asks NVML for the NVIDIA GPUs and the CUDA driver for the ordinals it gives them in this
    /// process. Never throws: a missing driver or GPU is a report with a reason.
    public func probeGPU() -> GPUReport {
        NVMLLibrary.probe(libraryName: nvmlLibraryName) { CUDADriver.listDevices() }
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

/// Pure parsers for the kernel files the probe reads, kept apart so tests can feed them fixture text.
extension HardwareProbe {
    /// Parses /proc/meminfo (values in kB). Falls back to `MemFree` + `Cached` on kernels older
    /// than 3.14 that lack `MemAvailable`. Nil when `MemTotal` is missing.
    public static func parseMemInfo(_ text: String) -> MemoryReport? {
        var values: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let fields = parts[1].split(separator: " ")
            guard let number = fields.first.flatMap({ UInt64($0) }) else { continue }
            let unit: UInt64 = fields.count > 1 && fields[1].lowercased() == "kb" ? 1024 : 1
            values[String(parts[0]).trimmingCharacters(in: .whitespaces)] = number * unit
        }
        guard let total = values["MemTotal"] else { return nil }
        let available = values["MemAvailable"] ?? ((values["MemFree"] ?? 0) + (values["Cached"] ?? 0))
        return MemoryReport(totalBytes: total, availableBytes: min(available, total))
    }

    /// Parses a kernel CPU list such as "0-3,8,10-11" (sysfs `online`, `thread_siblings_list`,
    /// /proc/self/status `Cpus_allowed_list`). Malformed parts are skipped.
    public static func parseCPUList(_ text: String) -> [Int] {
        var cpus: [Int] = []
        for part in text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            if bounds.count == 1, let single = bounds[0] {
                cpus.append(single)
            } else if bounds.count == 2, let low = bounds[0], let high = bounds[1], low <= high {
                cpus.append(contentsOf: low...high)
            }
        }
        return cpus
    }

    /// The `Cpus_allowed_list` line of /proc/self/status: the same mask `sched_getaffinity` returns.
    public static func parseAllowedCPUs(status text: String) -> [Int]? {
        for line in text.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
            let cpus = parseCPUList(String(line.dropFirst("Cpus_allowed_list:".count)))
            return cpus.isEmpty ? nil : cpus
        }
        return nil
    }

    /// Parses cgroup v2 `cpu.max` ("max 100000" or "200000 100000") into CPUs; nil when unlimited.
    public static func parseCgroupCPUMax(_ text: String) -> Double? {
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count >= 1, fields[0] != "max", let quota = Double(fields[0]), quota > 0 else { return nil }
        let period = fields.count > 1 ? Double(fields[1]) ?? 100_000 : 100_000
        return period > 0 ? quota / period : nil
    }

    /// Parses cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` into CPUs; nil when unlimited (-1).
    public static func parseCgroupV1CPUQuota(quota: String, period: String) -> Double? {
        guard let q = Double(quota.trimmingCharacters(in: .whitespacesAndNewlines)), q > 0,
            let p = Double(period.trimmingCharacters(in: .whitespacesAndNewlines)), p > 0
        else { return nil }
        return q / p
    }

    /// Parses cgroup v2 `memory.max` or v1 `memory.limit_in_bytes`; nil when unlimited ("max", or
    /// v1's page-rounded `LONG_MAX`).
    public static func parseCgroupMemoryLimit(_ text: String) -> UInt64? {
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard value != "max", let bytes = UInt64(value), bytes < (1 << 62) else { return nil }
        return bytes
    }

    /// Counts physical cores from each logical CPU's sibling list (sysfs `core_cpus_list` or
    /// `thread_siblings_list`): CPUs that share a list share a core. With `allowed`, counts only
    /// cores that have at least one allowed CPU.
    public static func countPhysicalCores(siblingLists: [Int: String], allowed: Set<Int>? = nil) -> Int {
        var cores = Set<[Int]>()
        for (cpu, list) in siblingLists {
            if let allowed, !allowed.contains(cpu) { continue }
            let siblings = parseCPUList(list).sorted()
            cores.insert(siblings.isEmpty ? [cpu] : siblings)
        }
        return cores.count
    }
}

/// What /proc/cpuinfo says, parsed from its text so that fixtures can stand in for a machine.
public struct ProcCPUInfo: Sendable, Equatable {
    public var modelName: String
    public var vendor: String?
    /// `processor` blocks: the logical CPUs online.
    public var logicalCores: Int
    /// Distinct (physical id, core id) pairs; when a hypervisor hides them, `cpu cores` per socket,
    /// and failing that the logical count.
    public var physicalCores: Int
    /// The flags of the first processor block (x86 `flags`, Arm `Features`).
    public var flags: [String]

    public init(modelName: String, vendor: String?, logicalCores: Int, physicalCores: Int, flags: [String]) {
        self.modelName = modelName
        self.vendor = vendor
        self.logicalCores = logicalCores
        self.physicalCores = physicalCores
        self.flags = flags
    }

    /// Parses the text of /proc/cpuinfo.
    public init(parsing text: String) {
        var blocks: [[String: String]] = []
        var current: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty {
                if !current.isEmpty { blocks.append(current) }
                current = [:]
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            // a new "processor" key without a blank line still starts a new block
            if key == "processor", current["processor"] != nil {
                blocks.append(current)
                current = [:]
            }
            current[key] = value
        }
        if !current.isEmpty { blocks.append(current) }

        let processors = blocks.filter { $0["processor"].map { Int($0) != nil } ?? false }
        let first = processors.first ?? blocks.first ?? [:]
        let logical = max(processors.count, 1)

        var pairs = Set<String>()
        var socketCores: [String: Int] = [:]
        for block in processors {
            if let socket = block["physical id"], let core = block["core id"] { pairs.insert("\(socket)/\(core)") }
            if let socket = block["physical id"], let cores = block["cpu cores"].flatMap({ Int($0) }) { socketCores[socket] = cores }
        }
        let physical: Int
        if !pairs.isEmpty {
            physical = pairs.count
        } else if !socketCores.isEmpty {
            physical = socketCores.values.reduce(0, +)
        } else {
            physical = logical
        }

        // x86 has "model name"; Arm kernels print "Processor", "Hardware" or only "CPU part".
        let name = first["model name"] ?? first["processor name"] ?? blocks.compactMap { $0["hardware"] }.first
            ?? first["cpu part"].map { "CPU part \($0)" } ?? "unknown CPU"
        let flagText = first["flags"] ?? first["features"] ?? ""
        self.init(
            modelName: name, vendor: first["vendor_id"] ?? first["cpu implementer"].map { "implementer \($0)" },
            logicalCores: logical, physicalCores: min(physical, logical),
            flags: flagText.split(separator: " ").map(String.init)
        )
    }
}
