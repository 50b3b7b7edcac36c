import VoxONNX
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// NVIDIA's management library, opened with dlopen so that VoxServe builds and runs on machines
/// without the driver. No NVML headers exist here: the C signatures are declared below with
/// `@convention(c)` from NVML's documented API (`nvml.h`), and every handle stays inside this file.
///
/// Thread safety: an instance is used by one probe call on one thread and never shared.
final class NVMLLibrary {
    // nvmlReturn_t is a C enum (int); nvmlDevice_t is an opaque pointer.
    private typealias Init = @convention(c) () -> Int32
    private typealias Shutdown = @convention(c) () -> Int32
    private typealias GetCount = @convention(c) (UnsafeMutablePointer<UInt32>?) -> Int32
    private typealias GetHandleByIndex = @convention(c) (UInt32, UnsafeMutablePointer<OpaquePointer?>?) -> Int32
    private typealias GetName = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, UInt32) -> Int32
    private typealias GetComputeCapability = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> Int32
    /// nvmlMemory_t (v1) is { unsigned long long total, free, used }.
    private typealias GetMemoryInfo = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt64>?) -> Int32
    private typealias GetDriverVersion = @convention(c) (UnsafeMutablePointer<CChar>?, UInt32) -> Int32
    private typealias GetCudaDriverVersion = @convention(c) (UnsafeMutablePointer<Int32>?) -> Int32
    private typealias ErrorString = @convention(c) (Int32) -> UnsafePointer<CChar>?
    private typealias GetUUID = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, UInt32) -> Int32
    /// nvmlPciInfo_t (v3): char busIdLegacy[16]; unsigned domain, bus, device, pciDeviceId,
    /// pciSubSystemId; char busId[32] (68 bytes).
    private typealias GetPCIInfo = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32

    private static let success: Int32 = 0
    /// NVML_DEVICE_NAME_V2_BUFFER_SIZE and NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE.
    private static let nameBufferSize = 96
    private static let driverVersionBufferSize = 80

    private let handle: UnsafeMutableRawPointer

    private init(handle: UnsafeMutableRawPointer) {
        self.handle = handle
    }

    deinit { dlclose(handle) }

    /// Opens NVML, lists its GPUs and shuts it down again, then gives each GPU the ordinal CUDA
    /// knows it by (`cudaDevices`: what the CUDA driver lists in this process; nil when CUDA could
    /// not be asked, and then no GPU gets an ordinal).
    static func probe(libraryName: String, cudaDevices: () -> Result<[CUDADriverDevice], CUDADriverProbeError>) -> GPUReport {
        guard let handle = dlopen(libraryName, RTLD_NOW | RTLD_LOCAL) else {
            let detail = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            return .unavailable("\(libraryName) not found: no NVIDIA driver installed (\(detail))")
        }
        var report = NVMLLibrary(handle: handle).listDevices(libraryName: libraryName)
        guard !report.devices.isEmpty else { return report }
        switch cudaDevices() {
        case .success(let cuda):
            report = GPUDeviceMapping.assignCUDAOrdinals(report, cuda: cuda)
        case .failure(let error):
            report.devices = report.devices.map { var d = $0; d.cudaDeviceID = nil; return d }
            report.cudaMappingNote = "CUDA could not list its devices (\(error.message)), so no GPU can be given to ONNX Runtime"
        }
        return report
    }

    /// A NUL-terminated C string filled in by NVML.
    private static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func symbol<F>(_ name: String, as type: F.Type) -> F? {
        guard let pointer = dlsym(handle, name) else { return nil }
        return unsafeBitCast(pointer, to: type)
    }

    private func describe(_ code: Int32) -> String {
        if let errorString = symbol("nvmlErrorString", as: ErrorString.self), let text = errorString(code) {
            return "\(String(cString: text)) (NVML error \(code))"
        }
        return "NVML error \(code)"
    }

    private func listDevices(libraryName: String) -> GPUReport {
        guard let initialize = symbol("nvmlInit_v2", as: Init.self), let shutdown = symbol("nvmlShutdown", as: Shutdown.self),
            let getCount = symbol("nvmlDeviceGetCount_v2", as: GetCount.self),
            let getHandle = symbol("nvmlDeviceGetHandleByIndex_v2", as: GetHandleByIndex.self),
            let getName = symbol("nvmlDeviceGetName", as: GetName.self),
            let getCapability = symbol("nvmlDeviceGetCudaComputeCapability", as: GetComputeCapability.self),
            let getMemory = symbol("nvmlDeviceGetMemoryInfo", as: GetMemoryInfo.self),
            let getDriverVersion = symbol("nvmlSystemGetDriverVersion", as: GetDriverVersion.self)
        else {
            return .unavailable("\(libraryName) lacks the NVML functions VoxServe needs: the NVIDIA driver is too old; update it")
        }
        let status = initialize()
        guard status == Self.success else {
            return .unavailable("NVML could not start: \(describe(status)); check that the NVIDIA kernel module is loaded (nvidia-smi)")
        }
        defer { _ = shutdown() }

        var driverBuffer = [CChar](repeating: 0, count: Self.driverVersionBufferSize)
        let driverVersion = getDriverVersion(&driverBuffer, UInt32(driverBuffer.count)) == Self.success
            ? Self.string(driverBuffer) : nil
        var cudaVersion: Int32 = 0
        let cudaDriverVersion = symbol("nvmlSystemGetCudaDriverVersion_v2", as: GetCudaDriverVersion.self)
            .flatMap { $0(&cudaVersion) == Self.success ? Int(cudaVersion) : nil }

        var count: UInt32 = 0
        let countStatus = getCount(&count)
        guard countStatus == Self.success else {
            return GPUReport(devices: [], driverVersion: driverVersion, cudaDriverVersion: cudaDriverVersion,
                             unavailableReason: "NVML could not count GPUs: \(describe(countStatus))")
        }
        var devices: [GPUDevice] = []
        var problems: [String] = []
        for index in 0..<count {
            var device: OpaquePointer?
            let handleStatus = getHandle(index, &device)
            guard handleStatus == Self.success, device != nil else {
                problems.append("GPU \(index): \(describe(handleStatus))")
                continue
            }
            var nameBuffer = [CChar](repeating: 0, count: Self.nameBufferSize)
            let name = getName(device, &nameBuffer, UInt32(nameBuffer.count)) == Self.success ? Self.string(nameBuffer) : "NVIDIA GPU \(index)"
            var major: Int32 = 0
            var minor: Int32 = 0
            let capabilityStatus = getCapability(device, &major, &minor)
            guard capabilityStatus == Self.success else {
                problems.append("\(name): no compute capability (\(describe(capabilityStatus)))")
                continue
            }
            var memory = [UInt64](repeating: 0, count: 3)
            let memoryStatus = getMemory(device, &memory)
            var uuidBuffer = [CChar](repeating: 0, count: Self.nameBufferSize)
            let uuid = symbol("nvmlDeviceGetUUID", as: GetUUID.self)
                .flatMap { $0(device, &uuidBuffer, UInt32(uuidBuffer.count)) == Self.success ? Self.string(uuidBuffer) : nil }
            var pci = [UInt8](repeating: 0, count: 128)
            let pciBusID = symbol("nvmlDeviceGetPciInfo_v3", as: GetPCIInfo.self).flatMap { getPCI -> String? in
                guard getPCI(device, &pci) == Self.success else { return nil }
                func field(_ offset: Int) -> UInt32 { pci.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) } }
                return PCIBusID(domain: field(16), bus: field(20), device: field(24)).description
            }
            devices.append(GPUDevice(
                index: Int(index), name: name, computeCapability: ComputeCapability(Int(major), Int(minor)),
                memoryTotalBytes: memoryStatus == Self.success ? memory[0] : 0,
                memoryFreeBytes: memoryStatus == Self.success ? memory[1] : 0,
                uuid: uuid, pciBusID: pciBusID, cudaDeviceID: nil
            ))
        }
        let reason: String? = devices.isEmpty
            ? (problems.isEmpty ? "the NVIDIA driver is installed but reports no GPU" : problems.joined(separator: "; "))
            : nil
        return GPUReport(devices: devices, driverVersion: driverVersion, cudaDriverVersion: cudaDriverVersion, unavailableReason: reason)
    }
}
