/// One ONNX graph of a model (Piper has one, Chatterbox four) and the variants of it on disk.
public struct ModelComponent: Sendable, Equatable, Codable {
    /// The graph's name, for example "language_model" or "vits".
    public var name: String
    public var variants: [ModelVariant]
    /// True when every run of this graph sees the same input shapes, the condition for capturing it
    /// once as a CUDA graph and replaying it. Piper/VITS never has static shapes (its length depends
    /// on the phonemes and on predicted durations).
    public var hasStaticShapes: Bool

    public init(name: String, variants: [ModelVariant], hasStaticShapes: Bool = false) {
        self.name = name
        self.variants = variants
        self.hasStaticShapes = hasStaticShapes
    }

    public init(name: String, precisions: [ModelPrecision], hasStaticShapes: Bool = false) {
        self.init(name: name, variants: precisions.map { ModelVariant($0) }, hasStaticShapes: hasStaticShapes)
    }

    public var precisions: [ModelPrecision] { variants.map(\.precision) }

    public func has(_ precision: ModelPrecision) -> Bool { variants.contains { $0.precision == precision } }

    public func bytes(for precision: ModelPrecision) -> UInt64? {
        variants.first { $0.precision == precision }?.bytes
    }
}
