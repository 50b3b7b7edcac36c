import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A PCI address, "00000000:3B:00.0" (NVML) or "0000:3b:00.0" (CUDA): compared by value, since the
/// two libraries print the domain with different widths and cases.
public struct PCIBusID: Sendable, Hashable, CustomStringConvertible {
    public var domain: UInt32
    public var bus: UInt32
    public var device: UInt32

    public init(domain: UInt32, bus: UInt32, device: UInt32) {
        self.domain = domain
        self.bus = bus
        self.device = device
    }

    /// Parses "domain:bus:device.function" or "bus:device.function" (hexadecimal).
    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ":")
        guard parts.count == 2 || parts.count == 3 else { return nil }
        let deviceAndFunction = parts[parts.count - 1].split(separator: ".")
        guard let device = deviceAndFunction.first.flatMap({ UInt32($0, radix: 16) }),
            let bus = UInt32(parts[parts.count - 2], radix: 16)
        else { return nil }
        let domain = parts.count == 3 ? UInt32(parts[0], radix: 16) : 0
        guard let domain else { return nil }
        self.init(domain: domain, bus: bus, device: device)
    }

    public var description: String {
        func hex(_ v: UInt32, _ width: Int) -> String {
            let digits = String(v, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(hex(domain, 8)):\(hex(bus, 2)):\(hex(device, 2)).0"
    }
}

/// One device as the CUDA driver lists it in this process: its ordinal is ONNX Runtime's `device_id`.
public struct CUDADriverDevice: Sendable, Equatable {
    public var ordinal: Int
    public var pciBusID: String?
    /// "GPU-…" for a whole GPU; a MIG instance has its own UUID but its parent's PCI bus id.
    public var uuid: String?

    public init(ordinal: Int, pciBusID: String?, uuid: String?) {
        self.ordinal = ordinal
        self.pciBusID = pciBusID
        self.uuid = uuid
    }
}

public struct CUDADriverProbeError: Error, Sendable, Equatable {
    public var message: String
}

/// Matches NVML's GPUs to CUDA's ordinals: the pure half of the probe, tested with fake lists.
public enum GPUDeviceMapping {
    /// Gives every GPU of `report` the ordinal of the CUDA device at the same PCI address (or with
    /// the same UUID); GPUs CUDA does not list get none. Several CUDA devices on one GPU (MIG
    /// instances) give it the lowest ordinal. The report says when the numbering is not NVML's.
    public static func assignCUDAOrdinals(_ report: GPUReport, cuda: [CUDADriverDevice]) -> GPUReport {
        var result = report
        var notes: [String] = []
        var used = Set<Int>()
        for i in result.devices.indices {
            let device = result.devices[i]
            let nvmlPCI = device.pciBusID.flatMap(PCIBusID.init)
            let match = cuda.filter { candidate in
                if let nvmlPCI, let pci = candidate.pciBusID.flatMap(PCIBusID.init), pci == nvmlPCI { return true }
                if let uuid = device.uuid, let other = candidate.uuid, normalizedUUID(uuid) == normalizedUUID(other) { return true }
                return false
            }.min { $0.ordinal < $1.ordinal }
            result.devices[i].cudaDeviceID = match?.ordinal
            if let match { used.insert(match.ordinal) }
            if match == nil {
                notes.append("\(device.name) (NVML \(device.index)) is not visible to CUDA in this process (CUDA_VISIBLE_DEVICES?)")
            } else if match!.ordinal != device.index {
                notes.append("\(device.name) is NVML \(device.index) but CUDA device \(match!.ordinal)")
            }
            let instances = cuda.filter { c in nvmlPCI != nil && c.pciBusID.flatMap(PCIBusID.init) == nvmlPCI }.count
            if instances > 1 { notes.append("\(device.name) appears to CUDA as \(instances) devices (MIG instances); the first, CUDA device \(match!.ordinal), is used") }
        }
        let knownPCI = Set(result.devices.compactMap { $0.pciBusID.flatMap(PCIBusID.init) })
        let unmatched = cuda.filter { candidate in
            guard !used.contains(candidate.ordinal) else { return false }
            guard let pci = candidate.pciBusID.flatMap(PCIBusID.init) else { return true }
            return !knownPCI.contains(pci)
        }
        if !unmatched.isEmpty {
            notes.append("CUDA lists \(unmatched.count) device\(unmatched.count == 1 ? "" : "s") NVML does not (\(unmatched.map { "CUDA \($0.ordinal)" }.joined(separator: ", ")))")
        }
        result.cudaMappingNote = notes.isEmpty ? nil : notes.joined(separator: "; ")
        return result
    }

    static func normalizedUUID(_ uuid: String) -> String {
        var u = uuid.lowercased()
        for prefix in ["gpu-", "mig-"] where u.hasPrefix(prefix) { u.removeFirst(prefix.count) }
        return u
    }
}

/// The CUDA driver API (`libcuda.so.1`, the driver's own library), opened with dlopen to ask which
/// devices CUDA sees in this process and at which PCI address: `cuInit`, `cuDeviceGetCount`,
/// `cuDeviceGet`, `cuDeviceGetPCIBusId`, `cuDeviceGetUuid_v2`. It creates no context.
public enum CUDADriver {
    private typealias Init = @convention(c) (UInt32) -> Int32
    private typealias GetCount = @convention(c) (UnsafeMutablePointer<Int32>?) -> Int32
    private typealias Get = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    private typealias GetPCIBusID = @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32) -> Int32
    private typealias GetUUID = @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32

    public static func listDevices(libraryName: String = "libcuda.so.1") -> Result<[CUDADriverDevice], CUDADriverProbeError> {
        // The library stays open: the process's CUDA provider uses the same one.
        guard let handle = dlopen(libraryName, RTLD_NOW | RTLD_GLOBAL) else {
            return .failure(CUDADriverProbeError(message: "\(libraryName) cannot be loaded: \(dlerror().map { String(cString: $0) } ?? "dlopen failed")"))
        }
        func symbol<F>(_ name: String, _ type: F.Type) -> F? { dlsym(handle, name).map { unsafeBitCast($0, to: type) } }
        guard let initialize = symbol("cuInit", Init.self), let getCount = symbol("cuDeviceGetCount", GetCount.self),
            let get = symbol("cuDeviceGet", Get.self), let getPCI = symbol("cuDeviceGetPCIBusId", GetPCIBusID.self)
        else { return .failure(CUDADriverProbeError(message: "\(libraryName) lacks the CUDA driver API")) }
        let status = initialize(0)
        // CUDA_ERROR_NO_DEVICE (100): every GPU is hidden (CUDA_VISIBLE_DEVICES="" or -1).
        if status == 100 { return .success([]) }
        guard status == 0 else { return .failure(CUDADriverProbeError(message: "cuInit failed with CUDA error \(status)")) }
        var count: Int32 = 0
        guard getCount(&count) == 0 else { return .failure(CUDADriverProbeError(message: "cuDeviceGetCount failed")) }
        let getUUID = symbol("cuDeviceGetUuid_v2", GetUUID.self) ?? symbol("cuDeviceGetUuid", GetUUID.self)
        var devices: [CUDADriverDevice] = []
        for ordinal in 0..<count {
            var device: Int32 = 0
            guard get(&device, ordinal) == 0 else { continue }
            var bus = [CChar](repeating: 0, count: 32)
            let pci = getPCI(&bus, Int32(bus.count), device) == 0 ? String(decoding: bus.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
            var raw = [UInt8](repeating: 0, count: 16)
            let uuid = getUUID.flatMap { $0(&raw, device) == 0 ? formatUUID(raw) : nil }
            devices.append(CUDADriverDevice(ordinal: Int(ordinal), pciBusID: pci, uuid: uuid))
        }
        return .success(devices)
    }

    /// 16 bytes as NVML prints a GPU's UUID: "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
    static func formatUUID(_ bytes: [UInt8]) -> String {
        let hex = bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }
        let groups = [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }
        return "GPU-" + groups.joined(separator: "-")
    }
}
