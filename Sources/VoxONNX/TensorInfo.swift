/// Name, element type and shape of a model input or output; -1 marks a dynamic dimension.
public struct TensorInfo: Sendable, Equatable, Codable {
    public var name: String
    public var elementType: TensorElementType
    public var shape: [Int]

    public init(name: String, elementType: TensorElementType, shape: [Int]) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
    }

    /// True when every dimension is known when the model is loaded.
    public var isStatic: Bool { shape.allSatisfy { $0 >= 0 } }
}
