import VoxONNX

/// Everything the execution planner needs to know about the machine. Codable so that
/// `voxserve doctor --json` can print it and tests can build fake ones.
public struct HardwareReport: Sendable, Equatable, Codable {
    public var cpu: CPUReport
    public var memory: MemoryReport
    public var gpu: GPUReport
    /// ONNX Runtime's available execution providers (`GetAvailableProviders`), given by the caller,
    /// for example ["CUDAExecutionProvider", "CPUExecutionProvider"].
    public var onnxRuntimeProviders: [String]

    public init(cpu: CPUReport, memory: MemoryReport, gpu: GPUReport, onnxRuntimeProviders: [String] = ["CPUExecutionProvider"]) {
        self.cpu = cpu
        self.memory = memory
        self.gpu = gpu
        self.onnxRuntimeProviders = onnxRuntimeProviders
    }

    public var hasCUDAProvider: Bool { onnxRuntimeProviders.contains(ExecutionProvider.cuda.onnxRuntimeName) }
}

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

/// The CPU vector and matrix extensions that decide which ONNX Runtime kernels run fast,
/// read from the `flags` line of /proc/cpuinfo.
public struct SIMDFeatures: Sendable, Equatable, Codable {
    public var avx2: Bool
    public var fma: Bool
    public var f16c: Bool
    public var avx512f: Bool
    /// AVX-512 VNNI: int8 dot products (Cascade Lake, Ice Lake, Zen 4 and later).
    public var avx512VNNI: Bool
    /// AVX-VNNI: the same int8 dot products on 256-bit vectors (Alder Lake, Zen 5).
    public var avxVNNI: Bool
    public var avx512BF16: Bool
    /// Intel AMX tiles (Sapphire Rapids and later).
    public var amxTile: Bool
    public var amxBF16: Bool
    public var amxInt8: Bool

    public init(
        avx2: Bool = false, fma: Bool = false, f16c: Bool = false, avx512f: Bool = false, avx512VNNI: Bool = false,
        avxVNNI: Bool = false, avx512BF16: Bool = false, amxTile: Bool = false, amxBF16: Bool = false, amxInt8: Bool = false
    ) {
        self.avx2 = avx2
        self.fma = fma
        self.f16c = f16c
        self.avx512f = avx512f
        self.avx512VNNI = avx512VNNI
        self.avxVNNI = avxVNNI
        self.avx512BF16 = avx512BF16
        self.amxTile = amxTile
        self.amxBF16 = amxBF16
        self.amxInt8 = amxInt8
    }

    /// Reads the feature names the Linux kernel prints in /proc/cpuinfo's `flags` line.
    public init<S: Sequence>(flags: S) where S.Element == String {
        let set = Set(flags.map { $0.lowercased() })
        self.init(
            avx2: set.contains("avx2"), fma: set.contains("fma"), f16c: set.contains("f16c"),
            avx512f: set.contains("avx512f"), avx512VNNI: set.contains("avx512_vnni"), avxVNNI: set.contains("avx_vnni"),
            avx512BF16: set.contains("avx512_bf16"), amxTile: set.contains("amx_tile"), amxBF16: set.contains("amx_bf16"),
            amxInt8: set.contains("amx_int8")
        )
    }

    /// Hardware int8 dot products, which make int8-quantized matrix multiplications fast in ONNX Runtime's MLAS.
    public var hasInt8DotProduct: Bool { avx512VNNI || avxVNNI || amxInt8 }

    /// The features present, by their /proc/cpuinfo names, in a fixed order.
    public var names: [String] {
        [
            ("avx2", avx2), ("fma", fma), ("f16c", f16c), ("avx512f", avx512f), ("avx512_vnni", avx512VNNI),
            ("avx_vnni", avxVNNI), ("avx512_bf16", avx512BF16), ("amx_tile", amxTile), ("amx_bf16", amxBF16),
            ("amx_int8", amxInt8),
        ].filter(\.1).map(\.0)
    }
}

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

/// The NVIDIA GPUs the probe found. No library or no GPU is a normal answer: `devices` is empty
/// and `unavailableReason` says why, in words a user can act on.
public struct GPUReport: Sendable, Equatable, Codable {
    public var devices: [GPUDevice]
    /// The driver's version string, for example "580.65.06".
    public var driverVersion: String?
    /// The newest CUDA version the driver supports, as NVML encodes it (13000 = 13.0).
    public var cudaDriverVersion: Int?
    public var unavailableReason: String?

    public init(devices: [GPUDevice], driverVersion: String? = nil, cudaDriverVersion: Int? = nil, unavailableReason: String? = nil) {
        self.devices = devices
        self.driverVersion = driverVersion
        self.cudaDriverVersion = cudaDriverVersion
        self.unavailableReason = unavailableReason
    }

    public static func unavailable(_ reason: String) -> GPUReport { GPUReport(devices: [], unavailableReason: reason) }
}

/// One NVIDIA GPU as NVML describes it.
public struct GPUDevice: Sendable, Equatable, Codable {
    /// NVML index, which is also the CUDA device id unless CUDA_VISIBLE_DEVICES reorders them.
    public var index: Int
    public var name: String
    public var computeCapability: ComputeCapability
    public var memoryTotalBytes: UInt64
    public var memoryFreeBytes: UInt64

    public init(index: Int, name: String, computeCapability: ComputeCapability, memoryTotalBytes: UInt64, memoryFreeBytes: UInt64? = nil) {
        self.index = index
        self.name = name
        self.computeCapability = computeCapability
        self.memoryTotalBytes = memoryTotalBytes
        self.memoryFreeBytes = memoryFreeBytes ?? memoryTotalBytes
    }
}

/// An NVIDIA GPU's CUDA compute capability, for example 8.9 for an RTX 4090.
///
/// Reference points (DESIGN.md, "Hardware and the execution plan"): RTX 50 (Blackwell) 12.0;
/// B200 10.0; H100/H200 9.0; RTX 40 (Ada) 8.9; RTX 30 8.6; A100 8.0; RTX 20/T4 7.5; Pascal 6.x.
public struct ComputeCapability: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static func < (lhs: ComputeCapability, rhs: ComputeCapability) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    public var description: String { "\(major).\(minor)" }

    /// Tensor cores with fast fp16 arrived with Volta (7.0). Pascal's consumer chips (6.1) run fp16
    /// at a small fraction of their fp32 rate, so fp16 there is slower, not faster.
    public var hasFastFP16: Bool { self >= ComputeCapability(7, 0) }

    /// bf16 arithmetic arrived with Ampere (8.0); Turing (7.5) and older have none.
    public var hasBF16: Bool { self >= ComputeCapability(8, 0) }
}

/// What the ONNX Runtime GPU build that VoxServe loads can run on.
///
/// The project's GPU setup installs PyPI `onnxruntime-gpu` 1.27+, built with CUDA 13. CUDA 13
/// can no longer compile for Maxwell, Pascal or Volta (compute capability below 7.5), so that
/// build carries no kernels for them, and it needs a driver that supports CUDA 13 (the 580 series
/// or newer). A CUDA 12 build of ONNX Runtime still runs on Pascal: describe it with
/// `ONNXRuntimeGPUBuild(cudaMajorVersion: 12, minimumComputeCapability: ComputeCapability(6, 0))`.
public struct ONNXRuntimeGPUBuild: Sendable, Equatable, Codable {
    public var cudaMajorVersion: Int
    public var minimumComputeCapability: ComputeCapability

    public init(cudaMajorVersion: Int, minimumComputeCapability: ComputeCapability) {
        self.cudaMajorVersion = cudaMajorVersion
        self.minimumComputeCapability = minimumComputeCapability
    }

    /// `onnxruntime-gpu` 1.27+ from PyPI (CUDA 13), as the project's setup installs it.
    public static let cuda13 = ONNXRuntimeGPUBuild(cudaMajorVersion: 13, minimumComputeCapability: ComputeCapability(7, 5))
}
