import Foundation

/// A small ONNX graph built in Swift and serialized as a `ModelProto`, for the few helper graphs
/// VoxServe runs beside a model on the model's own execution provider (moving a KV cache between
/// layouts without leaving the GPU). Only what those graphs need: tensor inputs and outputs, nodes
/// with integer attributes, int64 initializers, default-domain operators.
///
/// The encoding follows onnx.proto3's field numbers; ONNX Runtime checks the result when it loads
/// it, so a mistake here fails at session creation, not at run time.
public struct ONNXGraph: Sendable {
    /// A dimension: fixed, or named and free.
    public enum Dimension: Sendable, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
        case fixed(Int)
        case named(String)
        public init(integerLiteral value: Int) { self = .fixed(value) }
        public init(stringLiteral value: String) { self = .named(value) }
    }

    public struct Value: Sendable {
        public var name: String
        public var elementType: TensorElementType
        public var shape: [Dimension]
        public init(_ name: String, _ elementType: TensorElementType, _ shape: [Dimension]) {
            self.name = name
            self.elementType = elementType
            self.shape = shape
        }
    }

    public struct Node: Sendable {
        public var op: String
        public var inputs: [String]
        public var outputs: [String]
        public var ints: [String: Int]
        public var intLists: [String: [Int]]
        public init(_ op: String, _ inputs: [String], _ outputs: [String], ints: [String: Int] = [:], intLists: [String: [Int]] = [:]) {
            self.op = op
            self.inputs = inputs
            self.outputs = outputs
            self.ints = ints
            self.intLists = intLists
        }
    }

    public var name: String
    public var inputs: [Value]
    public var outputs: [Value]
    public var nodes: [Node]
    /// Constant int64 tensors (a Reshape's target shape), as (name, shape, values).
    public var int64Initializers: [(name: String, shape: [Int], values: [Int64])]
    public var opset: Int

    public init(
        name: String, inputs: [Value], outputs: [Value], nodes: [Node], int64Initializers: [(name: String, shape: [Int], values: [Int64])] = [],
        opset: Int = 13
    ) {
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.nodes = nodes
        self.int64Initializers = int64Initializers
        self.opset = opset
    }

    /// The `ModelProto` bytes (IR version 7, which every ONNX Runtime VoxServe supports reads).
    public func serialized() -> Data {
        var graph = ProtoWriter()
        for (i, node) in nodes.enumerated() {
            var n = ProtoWriter()
            for input in node.inputs { n.string(1, input) }
            for output in node.outputs { n.string(2, output) }
            n.string(3, "\(node.op.lowercased())_\(i)")
            n.string(4, node.op)
            for (key, value) in node.ints.sorted(by: { $0.key < $1.key }) {
                var a = ProtoWriter()
                a.string(1, key)
                a.varint(3, UInt64(bitPattern: Int64(value)))
                a.varint(20, 2)  // AttributeType.INT
                n.message(5, a)
            }
            for (key, values) in node.intLists.sorted(by: { $0.key < $1.key }) {
                var a = ProtoWriter()
                a.string(1, key)
                for value in values { a.varint(8, UInt64(bitPattern: Int64(value))) }
                a.varint(20, 7)  // AttributeType.INTS
                n.message(5, a)
            }
            graph.message(1, n)
        }
        graph.string(2, name)
        for initializer in int64Initializers {
            var t = ProtoWriter()
            for d in initializer.shape { t.varint(1, UInt64(d)) }
            t.varint(2, UInt64(Self.onnxType(.int64)))
            t.string(8, initializer.name)
            var raw = Data()
            for v in initializer.values { withUnsafeBytes(of: v.littleEndian) { raw.append(contentsOf: $0) } }
            t.bytes(9, raw)
            graph.message(5, t)
        }
        for input in inputs { graph.message(11, Self.valueInfo(input)) }
        for output in outputs { graph.message(12, Self.valueInfo(output)) }

        var model = ProtoWriter()
        model.varint(1, 7)  // ir_version
        model.string(2, "voxserve")  // producer_name
        model.message(7, graph)
        var opset = ProtoWriter()
        opset.string(1, "")
        opset.varint(2, UInt64(self.opset))
        model.message(8, opset)
        return model.data
    }

    private static func valueInfo(_ value: Value) -> ProtoWriter {
        var shape = ProtoWriter()
        for dim in value.shape {
            var d = ProtoWriter()
            switch dim {
            case .fixed(let n): d.varint(1, UInt64(n))
            case .named(let s): d.string(2, s)
            }
            shape.message(1, d)
        }
        var tensor = ProtoWriter()
        tensor.varint(1, UInt64(onnxType(value.elementType)))
        tensor.message(2, shape)
        var type = ProtoWriter()
        type.message(1, tensor)
        var info = ProtoWriter()
        info.string(1, value.name)
        info.message(2, type)
        return info
    }

    /// ONNX's `TensorProto.DataType`, which ONNX Runtime's element type enum mirrors.
    static func onnxType(_ type: TensorElementType) -> Int { Int(type.raw.rawValue) }
}

/// Protocol-buffer wire format, only the field kinds `ONNXGraph` writes.
private struct ProtoWriter {
    var data = Data()

    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, wireType: 0)
        raw(value)
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Data(value.utf8)) }

    mutating func bytes(_ field: Int, _ value: Data) {
        key(field, wireType: 2)
        raw(UInt64(value.count))
        data.append(value)
    }

    mutating func message(_ field: Int, _ value: ProtoWriter) { bytes(field, value.data) }

    private mutating func key(_ field: Int, wireType: UInt64) { raw(UInt64(field) << 3 | wireType) }

    private mutating func raw(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            data.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        data.append(UInt8(v))
    }
}
