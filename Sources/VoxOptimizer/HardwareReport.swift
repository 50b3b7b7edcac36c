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
    /// How NVML's GPUs were matched to CUDA's ordinals, when something is worth saying (GPUs hidden
    /// by `CUDA_VISIBLE_DEVICES`, a different order, MIG instances, or CUDA not answering).
    public var cudaMappingNote: String?

    public init(
        devices: [GPUDevice], driverVersion: String? = nil, cudaDriverVersion: Int? = nil, unavailableReason: String? = nil,
        cudaMappingNote: String? = nil
    ) {
        self.devices = devices
        self.driverVersion = driverVersion
        self.cudaDriverVersion = cudaDriverVersion
        self.unavailableReason = unavailableReason
        self.cudaMappingNote = cudaMappingNote
    }

    public static func unavailable(_ reason: String) -> GPUReport { GPUReport(devices: [], unavailableReason: reason) }
}

/// One NVIDIA GPU as NVML describes it, and the id CUDA knows it by.
///
/// NVML numbers every GPU of the machine; CUDA numbers only the ones it sees (`CUDA_VISIBLE_DEVICES`
/// hides, reorders, or names MIG instances), in its own order (`CUDA_DEVICE_ORDER`, fastest first by
/// default). ONNX Runtime's `device_id` is CUDA's number, so the probe matches the two lists by PCI
/// bus id (then UUID) and a GPU CUDA does not see has no `cudaDeviceID`.
public struct GPUDevice: Sendable, Equatable, Codable {
    /// NVML index: the machine's numbering (nvidia-smi's), not necessarily CUDA's.
    public var index: Int
    public var name: String
    public var computeCapability: ComputeCapability
    public var memoryTotalBytes: UInt64
    public var memoryFreeBytes: UInt64
    /// "GPU-8f6e…", as NVML and `nvidia-smi -L` print it.
    public var uuid: String?
    /// "00000000:3B:00.0", as NVML prints it.
    public var pciBusID: String?
    /// The CUDA device ordinal (ONNX Runtime's `device_id`) in this process; nil when CUDA does not
    /// see this GPU.
    public var cudaDeviceID: Int?

    /// A GPU whose CUDA ordinal is its NVML index (one GPU, or CUDA enumerating as NVML does): for
    /// fixtures and reports built by hand. The probe uses the full initializer.
    public init(index: Int, name: String, computeCapability: ComputeCapability, memoryTotalBytes: UInt64, memoryFreeBytes: UInt64? = nil) {
        self.init(
            index: index, name: name, computeCapability: computeCapability, memoryTotalBytes: memoryTotalBytes, memoryFreeBytes: memoryFreeBytes,
            uuid: nil, pciBusID: nil, cudaDeviceID: index)
    }

    public init(
        index: Int, name: String, computeCapability: ComputeCapability, memoryTotalBytes: UInt64, memoryFreeBytes: UInt64?, uuid: String?,
        pciBusID: String?, cudaDeviceID: Int?
    ) {
        self.index = index
        self.name = name
        self.computeCapability = computeCapability
        self.memoryTotalBytes = memoryTotalBytes
        self.memoryFreeBytes = memoryFreeBytes ?? memoryTotalBytes
        self.uuid = uuid
        self.pciBusID = pciBusID
        self.cudaDeviceID = cudaDeviceID
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
///
/// Which GPUs a build really runs on is decided by the code it carries: `architectures`, read from
/// `libonnxruntime_providers_cuda.so` at setup (`scripts/cuda-architectures.sh`, NVIDIA's
/// `cuobjdump`). The pinned 1.31.1 carries sm_75/80/86/89/90a/120a cubins and no PTX: a B200
/// (10.0), Thor (11.0) or GB10 (12.1) would load a CUDA session whose first kernel fails with "no
/// kernel image". When the list is unknown (nil), only `minimumComputeCapability` is checked.
public struct ONNXRuntimeGPUBuild: Sendable, Equatable, Codable {
    public var cudaMajorVersion: Int
    public var minimumComputeCapability: ComputeCapability
    /// The machine code and PTX the CUDA provider library carries; nil when not read.
    public var architectures: [CUDAArchitecture]?

    public init(cudaMajorVersion: Int, minimumComputeCapability: ComputeCapability, architectures: [CUDAArchitecture]? = nil) {
        self.cudaMajorVersion = cudaMajorVersion
        self.minimumComputeCapability = minimumComputeCapability
        self.architectures = architectures
    }

    /// `onnxruntime-gpu` 1.27+ from PyPI (CUDA 13), as the project's setup installs it, with its
    /// architectures not (yet) read.
    public static let cuda13 = ONNXRuntimeGPUBuild(cudaMajorVersion: 13, minimumComputeCapability: ComputeCapability(7, 5))

    /// The name of the file setup writes beside the GPU build's `lib` folder.
    public static let architecturesFileName = "cuda-architectures.txt"

    /// Whether this build has code that runs on `cc`, and in words why not.
    public func support(for cc: ComputeCapability) -> (supported: Bool, reason: String?) {
        if let architectures {
            if architectures.contains(where: { $0.runs(on: cc) }) { return (true, nil) }
            return (false, "the ONNX Runtime GPU build carries \(Self.describe(architectures)), none of which runs on compute capability \(cc) (its first kernel would fail with \"no kernel image\")")
        }
        if cc < minimumComputeCapability {
            return (false, "it is older than the ONNX Runtime GPU build supports (CUDA \(cudaMajorVersion) kernels start at compute capability \(minimumComputeCapability))")
        }
        return (true, nil)
    }

    /// "machine code for sm_75, sm_80, sm_90a and no PTX".
    public static func describe(_ architectures: [CUDAArchitecture]) -> String {
        let cubins = architectures.filter { $0.kind == .cubin }.map(\.name)
        let ptx = architectures.filter { $0.kind == .ptx }.map(\.name)
        let code = cubins.isEmpty ? "no machine code" : "machine code for \(cubins.joined(separator: ", "))"
        return code + (ptx.isEmpty ? " and no PTX" : " and PTX for \(ptx.joined(separator: ", "))")
    }

    /// Parses `cuda-architectures.txt`: one `sm_90a` / `compute_90` name per line, optionally
    /// followed by more fields (`cubin 600`); `#` starts a comment. Unknown lines are skipped.
    public static func parseArchitectures(_ text: String) -> [CUDAArchitecture] {
        var seen = Set<CUDAArchitecture>()
        var result: [CUDAArchitecture] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            guard let word = content.split(whereSeparator: \.isWhitespace).first, let arch = CUDAArchitecture(String(word)) else { continue }
            if seen.insert(arch).inserted { result.append(arch) }
        }
        return result
    }
}

/// One code image a CUDA library carries: machine code (`sm_86`, a cubin) or PTX (`compute_86`)
/// for an architecture, possibly architecture-specific (`sm_90a`) or family-specific (`sm_100f`).
///
/// CUDA's compatibility rules: a cubin for X.y runs on X.z with z ≥ y (same major); an `a` cubin
/// runs only on exactly X.y; an `f` cubin on the family X.z, z ≥ y. PTX is compiled by the driver
/// for any newer GPU (plain PTX only; `a`/`f` PTX as the cubin rules).
public struct CUDAArchitecture: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        case cubin
        case ptx
    }

    public enum Variant: String, Sendable, Hashable, Codable {
        case portable = ""
        /// `a`: architecture-specific features (wgmma on 9.0a, tcgen05 on 10.0a): exactly one GPU generation.
        case architectureSpecific = "a"
        /// `f`: family-specific (CUDA 12.9+).
        case familySpecific = "f"
    }

    public var kind: Kind
    public var capability: ComputeCapability
    public var variant: Variant

    public init(kind: Kind, capability: ComputeCapability, variant: Variant = .portable) {
        self.kind = kind
        self.capability = capability
        self.variant = variant
    }

    /// Parses `sm_90a`, `compute_120`, `sm_100f`; nil otherwise.
    public init?(_ name: String) {
        let kind: Kind
        let rest: Substring
        if name.hasPrefix("sm_") {
            kind = .cubin
            rest = name.dropFirst(3)
        } else if name.hasPrefix("compute_") {
            kind = .ptx
            rest = name.dropFirst(8)
        } else {
            return nil
        }
        var digits = rest
        var variant = Variant.portable
        if let last = rest.last, let v = Variant(rawValue: String(last)), v != .portable {
            variant = v
            digits = rest.dropLast()
        }
        guard digits.count >= 2, digits.allSatisfy(\.isNumber), let number = Int(digits) else { return nil }
        self.init(kind: kind, capability: ComputeCapability(number / 10, number % 10), variant: variant)
    }

    public var name: String {
        "\(kind == .cubin ? "sm" : "compute")_\(capability.major)\(capability.minor)\(variant.rawValue)"
    }

    public var description: String { name }

    /// Whether a GPU of compute capability `cc` can run this image.
    public func runs(on cc: ComputeCapability) -> Bool {
        switch (kind, variant) {
        case (_, .architectureSpecific): return cc == capability
        case (_, .familySpecific), (.cubin, .portable): return cc.major == capability.major && cc.minor >= capability.minor
        case (.ptx, .portable): return cc >= capability
        }
    }
}
