import CONNXRuntime
import Foundation

/// ONNX Runtime's IO binding for one session: inputs bound as `ONNXValue`s, outputs bound to a
/// device, so a loop on a GPU keeps its tensors (a KV cache) in device memory between runs and
/// copies to the host only what it reads (logits). Made for one loop at a time: not `Sendable`.
public final class ONNXIOBinding {
    public enum Device: Sendable, Equatable {
        case cpu
        case cuda(deviceID: Int)
    }

    public let session: ONNXSession
    private let binding: OpaquePointer
    private var inputs: [ONNXValue] = []
    private var outputNames: [String] = []
    private var memoryInfos: [OpaquePointer] = []

    public init(session: ONNXSession) throws {
        let api = session.runtime.api.pointee
        var binding: OpaquePointer?
        try session.runtime.check(api.CreateIoBinding(session.handle, &binding))
        self.session = session
        self.binding = binding!
    }

    deinit {
        let api = session.runtime.api.pointee
        api.ReleaseIoBinding(binding)
        for info in memoryInfos { api.ReleaseMemoryInfo(info) }
    }

    /// Binds `value` to the input `name`; the value is kept alive until `clear()` or deinit.
    public func bind(input name: String, _ value: ONNXValue) throws {
        try session.runtime.check(session.runtime.api.pointee.BindInput(binding, name, value.handle))
        inputs.append(value)
    }

    /// Lets ONNX Runtime allocate the output `name` on `device`.
    public func bind(output name: String, on device: Device) throws {
        let runtime = session.runtime
        let api = runtime.api.pointee
        var info: OpaquePointer?
        switch device {
        case .cpu:
            try runtime.check(api.CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &info))
        case .cuda(let id):
            try runtime.check(api.CreateMemoryInfo("Cuda", OrtArenaAllocator, Int32(id), OrtMemTypeDefault, &info))
        }
        memoryInfos.append(info!)
        try runtime.check(api.BindOutputToDevice(binding, name, info))
        outputNames.append(name)
    }

    /// Runs the session on the bound values; the outputs stay where they were bound.
    public func run() throws -> [String: ONNXValue] {
        let runtime = session.runtime
        let api = runtime.api.pointee
        try runtime.check(api.RunWithBinding(session.handle, nil, binding))
        var allocator: UnsafeMutablePointer<OrtAllocator>?
        try runtime.check(api.GetAllocatorWithDefaultOptions(&allocator))
        var values: UnsafeMutablePointer<OpaquePointer?>?
        var count = 0
        try runtime.check(api.GetBoundOutputValues(binding, allocator, &values, &count))
        guard let values else { return [:] }
        defer { _ = api.AllocatorFree(allocator, values) }
        var out: [String: ONNXValue] = [:]
        var failure: Error?
        for i in 0..<count {
            guard let handle = values[i] else { continue }
            // Each handle is ours to release; a failure still takes the rest.
            do {
                let value = try ONNXValue(taking: handle, runtime: runtime, producer: session)
                if i < outputNames.count { out[outputNames[i]] = value }
            } catch {
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
        return out
    }

    /// Unbinds every input and output, for the next run's bindings.
    public func clear() {
        let api = session.runtime.api.pointee
        api.ClearBoundInputs(binding)
        api.ClearBoundOutputs(binding)
        inputs.removeAll()
        outputNames.removeAll()
    }
}
