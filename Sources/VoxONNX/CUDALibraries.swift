import Foundation

/// The NVIDIA libraries ONNX Runtime's CUDA provider needs, as `make setup GPU=1` lays them out
/// beside the GPU build: `.deps/onnxruntime-gpu/nvidia/cu13/lib` (CUDA 13 runtime, cuBLAS, cuRAND,
/// cuFFT, NVRTC, nvJitLink) and `.deps/onnxruntime-gpu/nvidia/cudnn/lib` (cuDNN 9).
///
/// `libonnxruntime_providers_cuda.so` names its dependencies by soname only (no RUNPATH), and loads
/// cuDNN and cuFFT later with `dlopen("libcudnn.so.9")`. Opening every library here first, by full
/// path with `RTLD_GLOBAL`, puts each soname in the process, so those lookups find the copies setup
/// installed without `LD_LIBRARY_PATH`: what onnxruntime's Python package does in `preload_dlls()`.
public enum CUDALibraries {
    /// One shared library of the set.
    public struct Library: Sendable, Equatable, CustomStringConvertible {
        /// The file name, which is also the soname the loader matches.
        public var soname: String
        /// The folder below the `nvidia` directory that holds it.
        public var folder: String
        /// The PyPI package that ships it.
        public var package: String

        public init(soname: String, folder: String, package: String) {
            self.soname = soname
            self.folder = folder
            self.package = package
        }

        /// Its path below `nvidiaDirectory`.
        public func url(in nvidiaDirectory: URL) -> URL {
            nvidiaDirectory.appendingPathComponent(folder).appendingPathComponent(soname)
        }

        public var description: String { soname }
    }

    /// The CUDA major version of the GPU build setup installs (onnxruntime-gpu 1.27+ is CUDA 13).
    public static let cudaMajorVersion = 13
    /// The driver's CUDA library: not shipped by setup, it comes with the NVIDIA driver.
    public static let driverLibrary = "libcuda.so.1"

    /// Every library in load order: each one after those it links against (`DT_NEEDED`), so that a
    /// dependency is always found already loaded by its soname. cuDNN's sub-libraries link against
    /// `libcudnn_graph` and `libcudnn_ops`, and find cuBLAS and NVRTC the same way.
    public static let loadOrder: [Library] = {
        let cuda = "cu\(cudaMajorVersion)/lib"
        let cudnn = "cudnn/lib"
        return [
            Library(soname: "libcudart.so.13", folder: cuda, package: "nvidia-cuda-runtime"),
            Library(soname: "libnvJitLink.so.13", folder: cuda, package: "nvidia-nvjitlink"),
            Library(soname: "libnvrtc.so.13", folder: cuda, package: "nvidia-cuda-nvrtc"),
            Library(soname: "libcublasLt.so.13", folder: cuda, package: "nvidia-cublas"),
            Library(soname: "libcublas.so.13", folder: cuda, package: "nvidia-cublas"),
            Library(soname: "libcurand.so.10", folder: cuda, package: "nvidia-curand"),
            Library(soname: "libcufft.so.12", folder: cuda, package: "nvidia-cufft"),
            Library(soname: "libcudnn.so.9", folder: cudnn, package: "nvidia-cudnn-cu13"),
            Library(soname: "libcudnn_graph.so.9", folder: cudnn, package: "nvidia-cudnn-cu13"),
            Library(soname: "libcudnn_ops.so.9", folder: cudnn, package: "nvidia-cudnn-cu13"),
            Library(soname: "libcudnn_cnn.so.9", folder: cudnn, package: "nvidia-cudnn-cu13"),
            Library(soname: "libcudnn_adv.so.9", folder: cudnn, package: "nvidia-cudnn-cu13"),
            Library(soname: "libcudnn_heuristic.so.9", folder: cudnn, package: "nvidia-cudnn-cu13"),
            Library(soname: "libcudnn_engines_precompiled.so.9", folder: cudnn, package: "nvidia-cudnn-cu13"),
            Library(soname: "libcudnn_engines_runtime_compiled.so.9", folder: cudnn, package: "nvidia-cudnn-cu13"),
            Library(soname: "libcudnn_engines_tensor_ir.so.9", folder: cudnn, package: "nvidia-cudnn-cu13"),
            Library(soname: "libcudnn_ext.so.9", folder: cudnn, package: "nvidia-cudnn-cu13"),
        ]
    }()

    /// Where the NVIDIA libraries for the ONNX Runtime library at `libraryPath` are: the `nvidia`
    /// folder beside its `lib` folder when that library is setup's GPU build
    /// (`…/onnxruntime-gpu/lib/libonnxruntime.so.1`), or when such a folder exists; nil otherwise
    /// (a CPU build, or a library of the user's own that relies on the system's CUDA).
    public static func directory(forRuntimeLibrary libraryPath: String, fileExists: (String) -> Bool = FileManager.default.fileExists(atPath:)) -> URL? {
        guard libraryPath.hasPrefix("/") else { return nil }
        let root = URL(fileURLWithPath: libraryPath).deletingLastPathComponent().deletingLastPathComponent()
        let nvidia = root.appendingPathComponent("nvidia")
        if root.lastPathComponent == "onnxruntime-gpu" || fileExists(nvidia.path) { return nvidia }
        return nil
    }

    /// The libraries of `loadOrder` that are not in `nvidiaDirectory`, in load order.
    public static func missing(in nvidiaDirectory: URL, fileExists: (String) -> Bool = FileManager.default.fileExists(atPath:)) -> [Library] {
        loadOrder.filter { !fileExists($0.url(in: nvidiaDirectory).path) }
    }

    /// Opens the NVIDIA driver's CUDA library, then every library of `loadOrder` from
    /// `nvidiaDirectory`, with `RTLD_NOW | RTLD_GLOBAL`. They stay loaded for the life of the process.
    /// Checks that the folder is complete before opening anything, so a broken install is reported
    /// whole. Throws an `ONNXRuntimeError` that names the library that is missing or would not load.
    public static func preload(from nvidiaDirectory: URL, driverLibrary: String = driverLibrary) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: nvidiaDirectory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ONNXRuntimeError(
                code: -1,
                message: "The CUDA libraries for the GPU build of ONNX Runtime are missing: \(nvidiaDirectory.path) does not exist. Run `make setup GPU=1`.")
        }
        let absent = missing(in: nvidiaDirectory)
        if !absent.isEmpty {
            let names = absent.map { "\($0.soname) (\($0.package))" }.joined(separator: ", ")
            throw ONNXRuntimeError(
                code: -1,
                message: "The GPU runtime in \(nvidiaDirectory.path) is incomplete: \(names) missing. Run `make setup GPU=1` again.")
        }
        guard dlopen(driverLibrary, RTLD_NOW | RTLD_GLOBAL) != nil else {
            throw ONNXRuntimeError(
                code: -1,
                message: "\(driverLibrary), the NVIDIA driver's CUDA library, cannot be loaded (\(lastDLError())): install the NVIDIA driver (580 or newer for CUDA \(cudaMajorVersion)).")
        }
        for library in loadOrder {
            let path = library.url(in: nvidiaDirectory).path
            guard dlopen(path, RTLD_NOW | RTLD_GLOBAL) != nil else {
                throw ONNXRuntimeError(
                    code: -1,
                    message: "Cannot load \(library.soname) from \(path) (\(lastDLError())). Run `make setup GPU=1` again.")
            }
        }
    }

    private static func lastDLError() -> String {
        dlerror().map { String(cString: $0) } ?? "dlopen failed"
    }
}
