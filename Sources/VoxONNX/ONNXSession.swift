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
    /// Where ONNX Runtime placed the nodes, when `options.recordPlacement` asked for it.
    public let placement: SessionPlacement?
    private let session: OpaquePointer
    /// The `OrtSession` handle, for `ONNXIOBinding`.
    var handle: OpaquePointer { session }

    public convenience init(modelPath: String, options: SessionOptions = SessionOptions(), runtime: ONNXRuntime) throws {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw ONNXRuntimeError(code: 3, message: modelPath)
        }
        try self.init(source: .file(modelPath), name: modelPath, options: options, runtime: runtime)
    }

    /// A model held in memory (a helper graph VoxServe builds, `ONNXGraph`); `name` stands for the
    /// path in errors and `modelPath`.
    public convenience init(modelData: Data, name: String, options: SessionOptions = SessionOptions(), runtime: ONNXRuntime) throws {
        try self.init(source: .bytes(modelData), name: name, options: options, runtime: runtime)
    }

    private enum Source {
        case file(String)
        case bytes(Data)
    }

    private init(source: Source, name modelPath: String, options: SessionOptions, runtime: ONNXRuntime) throws {
        let api = runtime.api.pointee
        func create(_ so: OpaquePointer?, _ session: inout OpaquePointer?) throws {
            switch source {
            case .file(let path):
                try runtime.check(api.CreateSession(runtime.env, path, so, &session))
            case .bytes(let data):
                try data.withUnsafeBytes { bytes in
                    try runtime.check(api.CreateSessionFromArray(runtime.env, bytes.baseAddress, bytes.count, so, &session))
                }
            }
        }
        var so: OpaquePointer?
        try runtime.check(api.CreateSessionOptions(&so))
        defer { api.ReleaseSessionOptions(so) }
        try Self.apply(options, to: so!, runtime: runtime)

        var session: OpaquePointer?
        var recorded: SessionPlacement?
        if options.recordPlacement {
            // The session logs its creation at VERBOSE under its own id, which the collector keeps.
            let logID = ONNXLogCollector.shared.begin()
            var failure: Error?
            do {
                try runtime.check(api.SetSessionLogId(so, logID))
                try runtime.check(api.SetSessionLogSeverityLevel(so, 0))
                try create(so, &session)
            } catch {
                failure = error
            }
            let lines = ONNXLogCollector.shared.end(logID)
            if let failure { throw failure }
            recorded = SessionPlacement.parse(lines)
        } else {
            try create(so, &session)
        }
        self.placement = recorded
        self.runtime = runtime
        self.session = session!
        self.modelPath = modelPath
        self.options = options
        do {
            self.inputs = try Self.describe(session!, runtime: runtime, inputs: true)
            self.outputs = try Self.describe(session!, runtime: runtime, inputs: false)
            self.metadata = (try? Self.readMetadata(session!, runtime: runtime)) ?? [:]
        } catch {
            api.ReleaseSession(session)
            throw error
        }
    }

    deinit {
        runtime.api.pointee.ReleaseSession(session)
    }

    public func input(named name: String) -> TensorInfo? { inputs.first { $0.name == name } }
    public func output(named name: String) -> TensorInfo? { outputs.first { $0.name == name } }

    /// Runs the model. `outputNames` defaults to every output. Copies each feed into ONNX Runtime
    /// and each output back into Swift; see `run(values:outputNames:)` to keep values in ORT.
    public func run(_ feeds: [String: Tensor], outputNames: [String]? = nil) throws -> [String: Tensor] {
        try checkInputNames(feeds.keys)
        var values: [String: ONNXValue] = [:]
        for (name, tensor) in feeds {
            values[name] = try ONNXValue(tensor, runtime: runtime)
        }
        return try run(values: values, outputNames: outputNames ?? outputs.map(\.name)).mapValues { try $0.tensor() }
    }

    /// Runs the model on values already in ONNX Runtime and returns the outputs named in
    /// `outputNames` as values, without copying anything into or out of Swift.
    public func run(values feeds: [String: ONNXValue], outputNames wanted: [String]) throws -> [String: ONNXValue] {
        let api = runtime.api.pointee
        try checkInputNames(feeds.keys)
        let names = Array(feeds.keys)
        let inputs = names.map { feeds[$0]! }
        var results = [OpaquePointer?](repeating: nil, count: wanted.count)
        let inNames = names.map { strdup($0) }
        let outNames = wanted.map { strdup($0) }
        defer { (inNames + outNames).forEach { free($0) } }
        do {
            try withExtendedLifetime(inputs) {
                let handles: [OpaquePointer?] = inputs.map(\.handle)
                try inNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { inPtr in
                    try outNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { outPtr in
                        try handles.withUnsafeBufferPointer { valPtr in
                            try results.withUnsafeMutableBufferPointer { resPtr in
                                try runtime.check(api.Run(
                                    session, nil, inPtr.baseAddress, valPtr.baseAddress, names.count,
                                    outPtr.baseAddress, wanted.count, resPtr.baseAddress))
                            }
                        }
                    }
                }
            }
        } catch {
            for v in results { api.ReleaseValue(v) }
            throw error
        }
        // Each result is owned by its ONNXValue from here on; on a failure, the ones not yet taken are released.
        var out: [String: ONNXValue] = [:]
        for (i, name) in wanted.enumerated() {
            guard let handle = results[i] else {
                for v in results[(i + 1)...] { api.ReleaseValue(v) }
                throw ONNXRuntimeError(code: 1, message: "model \(URL(fileURLWithPath: modelPath).lastPathComponent) returned no value for '\(name)'")
            }
            do {
                out[name] = try ONNXValue(taking: handle, runtime: runtime, producer: self)
            } catch {
                for v in results[(i + 1)...] { api.ReleaseValue(v) }
                throw error
            }
        }
        return out
    }

    private func checkInputNames(_ names: some Sequence<String>) throws {
        for name in names where input(named: name) == nil {
            throw ONNXRuntimeError(code: 2, message: "model \(URL(fileURLWithPath: modelPath).lastPathComponent) has no input named '\(name)'")
        }
    }

    // MARK: metadata

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
                let (type, shape) = try ONNXValue.typeAndShape(tensorInfo, runtime: runtime)
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
        let level: CONNXRuntime.GraphOptimizationLevel
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
        if options.provider == .cuda {
            // Before ONNX Runtime opens libonnxruntime_providers_cuda.so, which needs them by soname.
            try runtime.preloadCUDALibraries()
            var cuda: OpaquePointer?
            try runtime.check(api.CreateCUDAProviderOptions(&cuda))
            defer { api.ReleaseCUDAProviderOptions(cuda) }
            let pairs = options.cudaProviderOptions
            let keys = pairs.map { strdup($0.key) }
            let values = pairs.map { strdup($0.value) }
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
