import VoxCore

/// The GPU and thread decisions.
extension ExecutionPlanner {
    /// Picks the GPU to run on, or says why CUDA is out. Throws only when the user forced CUDA (or a
    /// GPU index) that cannot be had: a forced choice must not turn silently into a CPU plan.
    func chooseGPU(hardware: HardwareReport, overrides: PlanOverrides) throws -> (device: GPUDevice?, reason: String) {
        if overrides.provider == .cpu {
            return (nil, "CPU forced by the user: CUDA not considered.")
        }
        let devices = hardware.gpu.devices
        func refuse(_ reason: String) throws -> (device: GPUDevice?, reason: String) {
            if overrides.provider == .cuda {
                throw VoxError(.unsupported, "CUDA was requested, but \(reason)", detail: "provider override")
            }
            return (nil, "CPU only: \(reason)")
        }
        guard !devices.isEmpty else {
            return try refuse("there is no usable NVIDIA GPU (\(hardware.gpu.unavailableReason ?? "NVML lists none")).")
        }
        let device: GPUDevice
        if let index = overrides.deviceIndex {
            guard let chosen = devices.first(where: { $0.index == index }) else {
                let known = devices.map { "\($0.index) (\($0.name))" }.joined(separator: ", ")
                throw VoxError.invalidInput("There is no GPU \(index); this machine has \(known).")
            }
            device = chosen
        } else {
            // Best GPU: one this ONNX Runtime build can run on, then the most memory, then the newest.
            device = devices.max { a, b in
                let supportedA = a.computeCapability >= gpuBuild.minimumComputeCapability
                let supportedB = b.computeCapability >= gpuBuild.minimumComputeCapability
                if supportedA != supportedB { return !supportedA }
                if a.memoryTotalBytes != b.memoryTotalBytes { return a.memoryTotalBytes < b.memoryTotalBytes }
                if a.computeCapability != b.computeCapability { return a.computeCapability < b.computeCapability }
                return a.index > b.index
            }!
        }
        let described = "\(device.name) (compute capability \(device.computeCapability), \(Self.gib(device.memoryTotalBytes)))"
        guard hardware.hasCUDAProvider else {
            return try refuse("\(described) is present, but ONNX Runtime offers only \(hardware.onnxRuntimeProviders.joined(separator: ", ")); install the GPU build (make setup GPU=1) to use it.")
        }
        guard device.computeCapability >= gpuBuild.minimumComputeCapability else {
            return try refuse("\(described) is older than the ONNX Runtime GPU build supports (CUDA \(gpuBuild.cudaMajorVersion) kernels start at compute capability \(gpuBuild.minimumComputeCapability)).")
        }
        if let driverCUDA = hardware.gpu.cudaDriverVersion, driverCUDA / 1000 < gpuBuild.cudaMajorVersion {
            return try refuse("the NVIDIA driver \(hardware.gpu.driverVersion ?? "") supports CUDA \(driverCUDA / 1000).\(driverCUDA % 1000 / 10), and the ONNX Runtime GPU build needs CUDA \(gpuBuild.cudaMajorVersion); update the driver.")
        }
        return (device, "CUDA on \(described).")
    }

    /// Intra-op threads on the CPU provider: one per usable physical core (SMT siblings share a core's
    /// vector units, so a second thread per core only contends), minus headroom on big machines for
    /// the server's own work (HTTP, audio encoding, phonemization, the other requests), at most
    /// `maxIntraOpThreads`.
    static func cpuIntraOpThreads(_ cpu: CPUReport) -> (count: Int, reason: String) {
        let usable = cpu.usableCores
        let headroom = usable >= 8 ? usable / 8 : 0
        let count = max(1, min(maxIntraOpThreads, usable - headroom))
        var reason = "\(count) intra-op thread\(count == 1 ? "" : "s"): \(usable) usable physical core\(usable == 1 ? "" : "s")"
        if usable < cpu.physicalCores { reason += " (of \(cpu.physicalCores); affinity or cgroup quota)" }
        if headroom > 0 { reason += ", \(headroom) left for the server's own work" }
        if usable - headroom > maxIntraOpThreads { reason += ", capped at \(maxIntraOpThreads): batch-1 operators are too small to split further" }
        return (count, reason + "; SMT siblings unused.")
    }

    /// Intra-op threads for a CUDA session: the GPU runs the graph; host threads only run the few
    /// shape operators left on the CPU, and more of them would spin on cores the server needs.
    static func cudaHostThreads(_ cpu: CPUReport) -> (count: Int, reason: String) {
        let count = min(2, cpu.usableCores)
        return (count, "\(count) intra-op thread\(count == 1 ? "" : "s"): the GPU runs the graph, host threads only its shape operators.")
    }
}
