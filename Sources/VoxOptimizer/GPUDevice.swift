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
