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
