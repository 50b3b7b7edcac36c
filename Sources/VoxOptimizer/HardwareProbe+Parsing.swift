import Foundation

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
