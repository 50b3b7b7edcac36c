import CONNXRuntime
import Foundation
import VoxCore

/// The ONNX Runtime shared library, opened with `dlopen`, and its process-wide environment.
///
/// Thread-safety: the `OrtApi` table is immutable and `OrtEnv` is documented as thread-safe;
/// the only state that changes after `init` is whether the CUDA libraries were preloaded, which is
/// guarded by `cudaLock`, so the class is `@unchecked Sendable`.
public final class ONNXRuntime: @unchecked Sendable {
    /// The C API version our headers were written for; the library must offer it.
    public static let apiVersion: UInt32 = UInt32(ORT_API_VERSION)

    let api: UnsafePointer<OrtApi>
    let env: OpaquePointer
    private let handle: UnsafeMutableRawPointer
    /// Path of the library that was opened.
    public let libraryPath: String
    /// ONNX Runtime's own version string, e.g. "1.32.0".
    public let version: String
    /// The NVIDIA libraries to preload before a CUDA session (see `CUDALibraries`); nil when this
    /// library is not setup's GPU build and has no `nvidia` folder beside it.
    public let cudaLibraryDirectory: URL?
    private let cudaLock = NSLock()
    private var cudaPreloaded = false

    /// Opens the first library in `candidates` that exists, then (when `systemFallback`) the
    /// system loader's `libonnxruntime.so.1`.
    public init(candidates: [URL], systemFallback: Bool = true, logLevel: Int32 = 3) throws {
        var tried: [String] = []
        var opened: (UnsafeMutableRawPointer, String)?
        for url in candidates where FileManager.default.fileExists(atPath: url.path) {
            if let h = dlopen(url.path, RTLD_NOW | RTLD_LOCAL) {
                opened = (h, url.path)
                break
            }
            tried.append("\(url.path): \(String(cString: dlerror()))")
        }
        if opened == nil, systemFallback, let h = dlopen("libonnxruntime.so.1", RTLD_NOW | RTLD_LOCAL) {
            opened = (h, "libonnxruntime.so.1")
        }
        guard let (handle, path) = opened else {
            let where_ = tried.isEmpty ? candidates.map(\.path).joined(separator: ", ") : tried.joined(separator: "; ")
            throw ONNXRuntimeError(code: -1, message: "ONNX Runtime library not found (looked at \(where_.isEmpty ? "the system loader path" : where_)). Run `make setup`.")
        }
        guard let symbol = dlsym(handle, "OrtGetApiBase") else {
            dlclose(handle)
            throw ONNXRuntimeError(code: -1, message: "\(path) does not export OrtGetApiBase")
        }
        let version = String(cString: vox_ort_version_string(symbol))
        guard let api = vox_ort_get_api(symbol, Self.apiVersion) else {
            dlclose(handle)
            throw ONNXRuntimeError(code: -1, message: "\(path) (ONNX Runtime \(version)) does not offer C API version \(Self.apiVersion)")
        }
        var env: OpaquePointer?
        // A custom logger: ONNX Runtime's messages reach ONNXLogCollector, which keeps the placement
        // lines of sessions that record them and prints errors as ONNX Runtime would.
        let status = api.pointee.CreateEnvWithCustomLogger(ONNXLogCollector.callback, nil, OrtLoggingLevel(UInt32(logLevel)), "voxserve", &env)
        if let status {
            let message = String(cString: api.pointee.GetErrorMessage(status)!)
            api.pointee.ReleaseStatus(status)
            dlclose(handle)
            throw ONNXRuntimeError(code: -1, message: "CreateEnv failed: \(message)")
        }
        self.handle = handle
        self.api = api
        self.env = env!
        self.libraryPath = path
        self.version = version
        self.cudaLibraryDirectory = CUDALibraries.directory(forRuntimeLibrary: path)
    }

    deinit {
        api.pointee.ReleaseEnv(env)
        // The library stays loaded: ORT does not support being unloaded and reloaded in one process.
    }

    /// Turns an `OrtStatus` into a Swift error, releasing the status.
    func check(_ status: OpaquePointer?) throws {
        guard let status else { return }
        let code = Int(api.pointee.GetErrorCode(status).rawValue)
        let message = String(cString: api.pointee.GetErrorMessage(status)!)
        api.pointee.ReleaseStatus(status)
        throw ONNXRuntimeError(code: code, message: message)
    }

    /// Execution providers compiled into this library, e.g. ["CUDAExecutionProvider", "CPUExecutionProvider"].
    public func availableProviders() -> [String] {
        var list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        var count: Int32 = 0
        guard (try? check(api.pointee.GetAvailableProviders(&list, &count))) != nil, let list else { return [] }
        defer { _ = api.pointee.ReleaseAvailableProviders(list, count) }
        return (0..<Int(count)).compactMap { list[$0].map { String(cString: $0) } }
    }

    /// Loads the NVIDIA libraries from `cudaLibraryDirectory` once per process, before the first
    /// CUDA session makes ONNX Runtime open its CUDA provider. Does nothing without that folder
    /// (the system loader path must then hold CUDA). A failure is thrown again on every call, so
    /// each CUDA session fails with the reason and the optimizer falls back to the next plan entry.
    public func preloadCUDALibraries() throws {
        guard let directory = cudaLibraryDirectory else { return }
        cudaLock.lock()
        defer { cudaLock.unlock() }
        if cudaPreloaded { return }
        try CUDALibraries.preload(from: directory)
        cudaPreloaded = true
    }

    // MARK: shared instances

    private static let lock = NSLock()
    nonisolated(unsafe) private static var instances: [Bool: ONNXRuntime] = [:]

    /// The process-wide runtime: the GPU build of the library when `preferGPU` and setup installed it,
    /// else the CPU build. ORT allows one environment per process, so this is created once per flavour.
    public static func shared(preferGPU: Bool = false, paths: VoxPaths) throws -> ONNXRuntime {
        lock.lock()
        defer { lock.unlock() }
        // Only one library can be loaded per process; once one is, everyone gets it.
        if let existing = instances[preferGPU] ?? instances.values.first { return existing }
        let runtime = try ONNXRuntime(candidates: paths.onnxRuntimeLibraryCandidates(preferGPU: preferGPU))
        instances[preferGPU] = runtime
        return runtime
    }
}
