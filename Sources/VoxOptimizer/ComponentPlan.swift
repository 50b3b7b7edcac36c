/// What one plan entry does with one model component.
public struct ComponentPlan: Sendable, Equatable, Codable {
    public var name: String
    public var precision: ModelPrecision
    /// Capture the graph once and replay it (ORT CUDA `enable_cuda_graph`); only for static shapes on CUDA.
    public var cudaGraph: Bool

    public init(name: String, precision: ModelPrecision, cudaGraph: Bool = false) {
        self.name = name
        self.precision = precision
        self.cudaGraph = cudaGraph
    }
}
