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
