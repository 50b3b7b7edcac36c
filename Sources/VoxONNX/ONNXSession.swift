import CONNXRuntime
import Foundation
import VoxCore

/// One loaded model.
///
/// Thread-safety: ONNX Runtime documents `OrtSession::Run` as safe to call concurrently; the
/// session's metadata is read once in `init` and never changes, so the class is `@unchecked Sendable`.
public final class ONNXSession: @unchecked Sendable {
    public let runtime: ONNXRuntime
    public let inputs: [TensorInfo]
    public let outputs: [TensorInfo]
    public let modelPath: String
    public let options: SessionOptions
    /// Custom metadata stored in the model (producer-defined key/value pairs).
    public let metadata: [String: String]
    private let session: OpaquePointer
    private let memoryInfo: OpaquePointer

    public init(modelPath: String, options: SessionOptions = SessionOptions(), runtime: ONNXRuntime) throws {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw ONNXRuntimeError(code: 3, message: modelPath)
        }
        let api = runtime.api.pointee
        var so: OpaquePointer?
        try runtime.check(api.CreateSessionOptions(&so))
        defer { api.ReleaseSessionOptions(so) }
        try Self.apply(options, to: so!, runtime: runtime)

        var session: OpaquePointer?
        try runtime.check(api.CreateSession(runtime.env, modelPath, so, &session))
        var memoryInfo: OpaquePointer?
        do {
            try runtime.check(api.CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memoryInfo))
        } catch {
            api.ReleaseSession(session)
            throw error
        }
        self.runtime = runtime
        self.session = session!
        self.memoryInfo = memoryInfo!
        self.modelPath = modelPath
        self.options = options
        do {
            self.inputs = try Self.describe(session!, runtime: runtime, inputs: true)
            self.outputs = try Self.describe(session!, runtime: runtime, inputs: false)
            self.metadata = (try? Self.readMetadata(session!, runtime: runtime)) ?? [:]
        } catch {
            api.ReleaseMemoryInfo(memoryInfo)
            api.ReleaseSession(session)
            throw error
        }
    }

    deinit {
        runtime.api.pointee.ReleaseMemoryInfo(memoryInfo)
        runtime.api.pointee.ReleaseSession(session)
    }

    public func input(named name: String) -> TensorInfo? { inputs.first { $0.name == name } }
    public func output(named name: String) -> TensorInfo? { outputs.first { $0.name == name } }

    /// Runs the model. `outputNames` defaults to every output.
    public func run(_ feeds: [String: Tensor], outputNames: [String]? = nil) throws -> [String: Tensor] {
        let api = runtime.api.pointee
        let wanted = outputNames ?? outputs.map(\.name)
        for name in feeds.keys where input(named: name) == nil {
            throw ONNXRuntimeError(code: 2, message: "model \(URL(fileURLWithPath: modelPath).lastPathComponent) has no input named '\(name)'")
        }
        let names = Array(feeds.keys)
        var values: [OpaquePointer?] = []
        defer { for v in values { api.ReleaseValue(v) } }
        for name in names {
            values.append(try makeValue(feeds[name]!))
        }
        var results = [OpaquePointer?](repeating: nil, count: wanted.count)
        defer { for v in results { api.ReleaseValue(v) } }

        let inNames = names.map { strdup($0) }
        let outNames = wanted.map { strdup($0) }
        defer { (inNames + outNames).forEach { free($0) } }
        try inNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { inPtr in
            try outNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { outPtr in
                try values.withUnsafeBufferPointer { valPtr in
                    try results.withUnsafeMutableBufferPointer { resPtr in
                        try runtime.check(api.Run(
                            session, nil, inPtr.baseAddress, valPtr.baseAddress, names.count,
                            outPtr.baseAddress, wanted.count, resPtr.baseAddress))
                    }
                }
            }
        }
        var out: [String: Tensor] = [:]
        for (i, name) in wanted.enumerated() {
            out[name] = try readValue(results[i]!)
        }
        return out
    }

    // MARK: values

    private func makeValue(_ tensor: Tensor) throws -> OpaquePointer? {
        let api = runtime.api.pointee
        var allocator: UnsafeMutablePointer<OrtAllocator>?
        try runtime.check(api.GetAllocatorWithDefaultOptions(&allocator))
        var value: OpaquePointer?
        let shape = tensor.shape.map { Int64($0) }
        try shape.withUnsafeBufferPointer { s in
            try runtime.check(api.CreateTensorAsOrtValue(allocator, s.baseAddress, shape.count, tensor.elementType.raw, &value))
        }
        if tensor.bytes.count > 0 {
            var data: UnsafeMutableRawPointer?
            do {
                try runtime.check(api.GetTensorMutableData(value, &data))
            } catch {
                api.ReleaseValue(value)
                throw error
            }
            tensor.bytes.withUnsafeBytes { src in data!.copyMemory(from: src.baseAddress!, byteCount: src.count) }
        }
        return value
    }

    private func readValue(_ value: OpaquePointer) throws -> Tensor {
        let api = runtime.api.pointee
        var info: OpaquePointer?
        try runtime.check(api.GetTensorTypeAndShape(value, &info))
        defer { api.ReleaseTensorTypeAndShapeInfo(info) }
        let (type, shape) = try Self.typeAndShape(info!, runtime: runtime)
        let count = shape.reduce(1, *)
        let byteCount = count * type.size
        var data: UnsafeMutableRawPointer?
        try runtime.check(api.GetTensorMutableData(value, &data))
        let bytes = byteCount > 0 && data != nil ? Data(bytes: data!, count: byteCount) : Data()
        return Tensor(elementType: type, shape: shape, bytes: bytes)
    }

    // MARK: metadata

    private static func typeAndShape(_ info: OpaquePointer, runtime: ONNXRuntime) throws -> (TensorElementType, [Int]) {
        let api = runtime.api.pointee
        var raw = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED
        try runtime.check(api.GetTensorElementType(info, &raw))
        var rank = 0
        try runtime.check(api.GetDimensionsCount(info, &rank))
        var dims = [Int64](repeating: 0, count: rank)
        try dims.withUnsafeMutableBufferPointer { try runtime.check(api.GetDimensions(info, $0.baseAddress, rank)) }
        return (TensorElementType(raw), dims.map { Int($0) })
    }

    private static func describe(_ session: OpaquePointer, runtime: ONNXRuntime, inputs: Bool) throws -> [TensorInfo] {
        let api = runtime.api.pointee
        var allocator: UnsafeMutablePointer<OrtAllocator>?
        try runtime.check(api.GetAllocatorWithDefaultOptions(&allocator))
        var count = 0
        try runtime.check(inputs ? api.SessionGetInputCount(session, &count) : api.SessionGetOutputCount(session, &count))
        var result: [TensorInfo] = []
        for i in 0..<count {
            var cname: UnsafeMutablePointer<CChar>?
            try runtime.check(inputs ? api.SessionGetInputName(session, i, allocator, &cname) : api.SessionGetOutputName(session, i, allocator, &cname))
            let name = String(cString: cname!)
            _ = api.AllocatorFree(allocator, cname)
            var typeInfo: OpaquePointer?
            try runtime.check(inputs ? api.SessionGetInputTypeInfo(session, i, &typeInfo) : api.SessionGetOutputTypeInfo(session, i, &typeInfo))
            defer { api.ReleaseTypeInfo(typeInfo) }
            var tensorInfo: OpaquePointer?
            try runtime.check(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo))
            if let tensorInfo {
                let (type, shape) = try typeAndShape(tensorInfo, runtime: runtime)
                result.append(TensorInfo(name: name, elementType: type, shape: shape))
            } else {
                result.append(TensorInfo(name: name, elementType: .other, shape: []))
            }
        }
        return result
    }

    private static func readMetadata(_ session: OpaquePointer, runtime: ONNXRuntime) throws -> [String: String] {
        let api = runtime.api.pointee
        var allocator: UnsafeMutablePointer<OrtAllocator>?
        try runtime.check(api.GetAllocatorWithDefaultOptions(&allocator))
        var meta: OpaquePointer?
        try runtime.check(api.SessionGetModelMetadata(session, &meta))
        defer { api.ReleaseModelMetadata(meta) }
        var keys: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        var n: Int64 = 0
        try runtime.check(api.ModelMetadataGetCustomMetadataMapKeys(meta, allocator, &keys, &n))
        guard let keys else { return [:] }
        var result: [String: String] = [:]
        for i in 0..<Int(n) {
            guard let k = keys[i] else { continue }
            var v: UnsafeMutablePointer<CChar>?
            if (try? runtime.check(api.ModelMetadataLookupCustomMetadataMap(meta, allocator, k, &v))) != nil, let v {
                result[String(cString: k)] = String(cString: v)
                _ = api.AllocatorFree(allocator, v)
            }
            _ = api.AllocatorFree(allocator, k)
        }
        _ = api.AllocatorFree(allocator, keys)
        return result
    }

    // MARK: options

    private static func apply(_ options: SessionOptions, to so: OpaquePointer, runtime: ONNXRuntime) throws {
        let api = runtime.api.pointee
        try runtime.check(api.SetIntraOpNumThreads(so, Int32(options.intraOpThreads)))
        try runtime.check(api.SetInterOpNumThreads(so, Int32(options.interOpThreads)))
        let level: GraphOptimizationLevel
        switch options.graphOptimizationLevel {
        case .disabled: level = ORT_DISABLE_ALL
        case .basic: level = ORT_ENABLE_BASIC
        case .extended: level = ORT_ENABLE_EXTENDED
        case .all: level = ORT_ENABLE_ALL
        }
        try runtime.check(api.SetSessionGraphOptimizationLevel(so, level))
        if let path = options.optimizedModelPath {
            try runtime.check(api.SetOptimizedModelFilePath(so, path))
        }
        for (key, value) in options.configEntries.sorted(by: { $0.key < $1.key }) {
            try runtime.check(api.AddSessionConfigEntry(so, key, value))
        }
        if case .cuda(let device, let cudaGraph) = options.provider {
            // Before ONNX Runtime opens libonnxruntime_providers_cuda.so, which needs them by soname.
            try runtime.preloadCUDALibraries()
            var cuda: OpaquePointer?
            try runtime.check(api.CreateCUDAProviderOptions(&cuda))
            defer { api.ReleaseCUDAProviderOptions(cuda) }
            let pairs: [(String, String)] = [
                ("device_id", String(device)),
                ("cudnn_conv_algo_search", "HEURISTIC"),
                ("do_copy_in_default_stream", "1"),
                ("enable_cuda_graph", cudaGraph ? "1" : "0"),
            ]
            let keys = pairs.map { strdup($0.0) }
            let values = pairs.map { strdup($0.1) }
            defer { (keys + values).forEach { free($0) } }
            try keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
                try values.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in
                    try runtime.check(api.UpdateCUDAProviderOptions(cuda, k.baseAddress, v.baseAddress, pairs.count))
                }
            }
            try runtime.check(api.SessionOptionsAppendExecutionProvider_CUDA_V2(so, cuda))
        }
    }
}
