import CONNXRuntime
import Foundation

/// A tensor held by ONNX Runtime (an `OrtValue`): made from a `Tensor` by copying it in once, or
/// handed back by `ONNXSession.run(values:outputNames:)`. Feeding it to another run passes the
/// `OrtValue` itself, so a KV cache can go from one step's outputs to the next step's inputs
/// without crossing into Swift; `tensor()` copies it out only when asked.
///
/// Thread-safety: the value is never written after creation (the copy in or the fill happens in `init`, a run
/// writes its outputs before handing them over, and ONNX Runtime only reads its inputs); type and
/// shape are read once in `init`. Concurrent reads — `tensor()`, or feeding one value to several
/// runs at once — are safe, so the class is `@unchecked Sendable`. Nothing may write through the
/// handle after `init`.
public final class ONNXValue: @unchecked Sendable {
    public let elementType: TensorElementType
    public let shape: [Int]
    /// True when the data is in GPU memory (an output bound to CUDA): the host cannot read it, so
    /// `tensor()` refuses instead of reading a device address.
    public let isOnDevice: Bool
    let handle: OpaquePointer
    private let runtime: ONNXRuntime
    /// The session whose run produced this value, kept alive for as long as the value is, so its
    /// allocator outlives the buffer whatever the execution provider; nil for values made from a Tensor.
    private let producer: AnyObject?

    /// Copies `tensor` into a new `OrtValue` on the CPU.
    public convenience init(_ tensor: Tensor, runtime: ONNXRuntime) throws {
        let value = try Self.allocate(tensor.elementType, shape: tensor.shape, runtime: runtime) { buffer in
            tensor.bytes.withUnsafeBytes { src in buffer.copyMemory(from: src) }
        }
        try self.init(taking: value, runtime: runtime, producer: nil)
    }

    /// A new `OrtValue` on the CPU of `type` and `shape`, zeroed and then filled by `fill` with its
    /// bytes (row-major), before anything else can see it: how a batch's KV cache is repacked when a
    /// row joins or leaves without a round trip through `Tensor`.
    public convenience init(
        zerosOf type: TensorElementType, shape: [Int], runtime: ONNXRuntime, fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws {
        let value = try Self.allocate(type, shape: shape, runtime: runtime) { buffer in
            _ = buffer.initializeMemory(as: UInt8.self, repeating: 0)
            try fill(buffer)
        }
        try self.init(taking: value, runtime: runtime, producer: nil)
    }

    /// Creates an `OrtValue` on the CPU with ONNX Runtime's default allocator and hands `write` its
    /// bytes (not called for an empty tensor); releases the value if anything fails.
    private static func allocate(
        _ type: TensorElementType, shape: [Int], runtime: ONNXRuntime, write: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws -> OpaquePointer {
        let api = runtime.api.pointee
        var allocator: UnsafeMutablePointer<OrtAllocator>?
        try runtime.check(api.GetAllocatorWithDefaultOptions(&allocator))
        var value: OpaquePointer?
        let dims = shape.map { Int64($0) }
        try dims.withUnsafeBufferPointer { s in
            try runtime.check(api.CreateTensorAsOrtValue(allocator, s.baseAddress, dims.count, type.raw, &value))
        }
        guard let value else { throw ONNXRuntimeError(code: 1, message: "CreateTensorAsOrtValue returned no value") }
        let byteCount = shape.reduce(1, *) * type.size
        guard byteCount > 0 else { return value }
        do {
            var data: UnsafeMutableRawPointer?
            try runtime.check(api.GetTensorMutableData(value, &data))
            try write(UnsafeMutableRawBufferPointer(start: data!, count: byteCount))
        } catch {
            api.ReleaseValue(value)
            throw error
        }
        return value
    }

    /// Takes ownership of `handle` (released in `deinit`, or here when it is not a tensor).
    /// `onDevice` overrides where ONNX Runtime says the data is (tests without a GPU).
    init(taking handle: OpaquePointer, runtime: ONNXRuntime, producer: AnyObject?, onDevice: Bool? = nil) throws {
        let api = runtime.api.pointee
        do {
            var info: OpaquePointer?
            try runtime.check(api.GetTensorTypeAndShape(handle, &info))
            defer { api.ReleaseTensorTypeAndShapeInfo(info) }
            (elementType, shape) = try Self.typeAndShape(info!, runtime: runtime)
            if let onDevice {
                isOnDevice = onDevice
            } else {
                // The memory info belongs to the value: not released here.
                var memory: OpaquePointer?
                try runtime.check(api.GetTensorMemoryInfo(handle, &memory))
                var device = OrtMemoryInfoDeviceType_CPU
                if let memory { api.MemoryInfoGetDeviceType(memory, &device) }
                isOnDevice = device != OrtMemoryInfoDeviceType_CPU
            }
        } catch {
            api.ReleaseValue(handle)
            throw error
        }
        self.handle = handle
        self.runtime = runtime
        self.producer = producer
    }

    deinit {
        runtime.api.pointee.ReleaseValue(handle)
    }

    public var count: Int { shape.reduce(1, *) }

    /// A copy of the values in Swift. Throws for a value in GPU memory: bind the output to the host
    /// (`ONNXIOBinding.bind(output:on: .cpu)`) to read it.
    public func tensor() throws -> Tensor {
        try withUnsafeBytes { Tensor(elementType: elementType, shape: shape, bytes: Data($0)) }
    }

    /// Calls `body` with the value's bytes, read in place (row-major; empty for an empty tensor).
    /// Throws for a value in GPU memory.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard !isOnDevice else {
            throw ONNXRuntimeError(
                code: 1, message: "a tensor of shape \(shape) is in GPU memory and cannot be read from the host; bind that output to the CPU to read it")
        }
        let byteCount = count * elementType.size
        guard byteCount > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        var data: UnsafeMutableRawPointer?
        // Read only: ORT has no const accessor; nothing is written through `data`.
        try runtime.check(runtime.api.pointee.GetTensorMutableData(handle, &data))
        guard let data else { throw ONNXRuntimeError(code: 1, message: "tensor of shape \(shape) has no data") }
        return try body(UnsafeRawBufferPointer(start: data, count: byteCount))
    }

    /// `count` values from flat index `offset` as Float (float32, float16 or bfloat16), read in
    /// place: a step's last logits row comes out without copying the whole [batch, positions, vocab].
    public func floats(offset: Int, count wanted: Int) throws -> [Float] {
        guard offset >= 0, wanted >= 0, offset + wanted <= count else {
            throw ONNXRuntimeError(code: 1, message: "values \(offset)..<\(offset + wanted) are outside a tensor of shape \(shape)")
        }
        guard wanted > 0 else { return [] }
        return try withUnsafeBytes { bytes in
            switch elementType {
            case .float32:
                return Array(UnsafeBufferPointer(start: bytes.baseAddress!.assumingMemoryBound(to: Float.self) + offset, count: wanted))
            case .float16:
                let halves = UnsafeBufferPointer(start: bytes.baseAddress!.assumingMemoryBound(to: UInt16.self) + offset, count: wanted)
                return halves.map { Float(Float16(bitPattern: $0)) }
            case .bfloat16:
                let halves = UnsafeBufferPointer(start: bytes.baseAddress!.assumingMemoryBound(to: UInt16.self) + offset, count: wanted)
                return halves.map { Float(bitPattern: UInt32($0) << 16) }
            default:
                throw ONNXRuntimeError(code: 1, message: "a \(elementType) tensor cannot be read as floating-point values")
            }
        }
    }

    static func typeAndShape(_ info: OpaquePointer, runtime: ONNXRuntime) throws -> (TensorElementType, [Int]) {
        let api = runtime.api.pointee
        var raw = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED
        try runtime.check(api.GetTensorElementType(info, &raw))
        var rank = 0
        try runtime.check(api.GetDimensionsCount(info, &rank))
        var dims = [Int64](repeating: 0, count: rank)
        try dims.withUnsafeMutableBufferPointer { try runtime.check(api.GetDimensions(info, $0.baseAddress, rank)) }
        return (TensorElementType(raw), dims.map { Int($0) })
    }
}
