/// One precision variant of a model component that is present on disk.
public struct ModelVariant: Sendable, Equatable, Codable {
    public var precision: ModelPrecision
    /// Size of the weights (the .onnx file plus its external data), when known. Lets the planner
    /// skip variants that cannot fit in GPU memory or RAM.
    public var bytes: UInt64?

    public init(_ precision: ModelPrecision, bytes: UInt64? = nil) {
        self.precision = precision
        self.bytes = bytes
    }
}
