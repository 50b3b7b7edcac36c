/// What the probe found about the CPU, and how much of it this process may use.
public struct CPUReport: Sendable, Equatable, Codable {
    public var modelName: String
    public var vendor: String?
    /// Physical cores of the whole machine (SMT siblings counted once).
    public var physicalCores: Int
    /// Logical CPUs online on the machine.
    public var logicalCores: Int
    /// Logical CPUs this process may run on (its affinity mask, as `sched_getaffinity` reports it).
    public var allowedLogicalCores: Int
    /// Physical cores that have at least one logical CPU in the affinity mask.
    public var allowedPhysicalCores: Int
    /// A cgroup CPU quota in CPUs (`cpu.max` 200000/100000 = 2.0), nil when unlimited.
    public var cpuQuota: Double?
    public var features: SIMDFeatures

    public init(
        modelName: String, vendor: String? = nil, physicalCores: Int, logicalCores: Int, allowedLogicalCores: Int? = nil,
        allowedPhysicalCores: Int? = nil, cpuQuota: Double? = nil, features: SIMDFeatures = SIMDFeatures()
    ) {
        self.modelName = modelName
        self.vendor = vendor
        self.physicalCores = physicalCores
        self.logicalCores = logicalCores
        self.allowedLogicalCores = allowedLogicalCores ?? logicalCores
        self.allowedPhysicalCores = allowedPhysicalCores ?? physicalCores
        self.cpuQuota = cpuQuota
        self.features = features
    }

    /// Physical cores this process can really keep busy: the affinity mask's physical cores, cut to a
    /// cgroup quota (rounded down: a thread beyond the quota only gets throttled), at least 1.
    public var usableCores: Int {
        var cores = allowedPhysicalCores
        if let quota = cpuQuota, quota > 0 { cores = min(cores, Int(quota.rounded(.down))) }
        return max(1, cores)
    }
}
