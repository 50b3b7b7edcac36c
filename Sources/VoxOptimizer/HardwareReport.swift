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
