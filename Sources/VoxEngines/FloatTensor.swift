/// A dense, row-major float32 tensor read from a weights file.
public struct FloatTensor: Sendable, Equatable {
    /// Size of each dimension, outermost first.
    public var shape: [Int]
    /// `shape.reduce(1, *)` values in row-major order.
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "a tensor of shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// Number of values.
    public var count: Int { data.count }
}
