/// System memory as /proc/meminfo and the cgroup memory limit report it.
public struct MemoryReport: Sendable, Equatable, Codable {
    public var totalBytes: UInt64
    /// `MemAvailable`: what can be allocated without swapping.
    public var availableBytes: UInt64
    /// A cgroup memory limit (`memory.max`), nil when unlimited.
    public var cgroupLimitBytes: UInt64?

    public init(totalBytes: UInt64, availableBytes: UInt64, cgroupLimitBytes: UInt64? = nil) {
        self.totalBytes = totalBytes
        self.availableBytes = availableBytes
        self.cgroupLimitBytes = cgroupLimitBytes
    }

    /// What this process can count on: available memory, cut to the cgroup limit.
    public var usableBytes: UInt64 {
        guard let limit = cgroupLimitBytes else { return availableBytes }
        return min(availableBytes, limit)
    }
}
