import Foundation
import Testing
import VoxCore
@testable import VoxONNX

/// The preload list and its errors. Loading real CUDA libraries needs an NVIDIA GPU and
/// `make setup GPU=1`; these tests pin what can be checked without them.
@Suite struct CUDALibrariesTests {
    /// `DT_NEEDED` entries of the wheels setup installs (readelf -d), between libraries of the set.
    static let links: [String: [String]] = [
        "libcublas.so.13": ["libcublasLt.so.13"],
        "libcurand.so.10": ["libcudart.so.13"],
        "libcudnn_ops.so.9": ["libcudnn_graph.so.9"],
        "libcudnn_cnn.so.9": ["libcudnn_ops.so.9", "libcudnn_graph.so.9"],
        "libcudnn_adv.so.9": ["libcudnn_ops.so.9", "libcudnn_graph.so.9"],
        "libcudnn_heuristic.so.9": ["libcudnn_graph.so.9"],
        "libcudnn_engines_precompiled.so.9": ["libcudnn_graph.so.9"],
        "libcudnn_engines_runtime_compiled.so.9": ["libcudnn_graph.so.9"],
        "libcudnn_engines_tensor_ir.so.9": ["libcudnn_graph.so.9"],
    ]

    @Test func loadOrderPutsEveryLibraryAfterTheLibrariesItLinksAgainst() {
        let order = CUDALibraries.loadOrder.map(\.soname)
        #expect(Set(order).count == order.count, "a library is listed twice")
        for (library, dependencies) in Self.links {
            guard let position = order.firstIndex(of: library) else {
                Issue.record("\(library) is not preloaded")
                continue
            }
            for dependency in dependencies {
                let before = order.firstIndex(of: dependency)
                #expect(before.map { $0 < position } == true, "\(dependency) must load before \(library)")
            }
        }
    }

    @Test func loadOrderCoversWhatTheCUDAProviderNeedsAndOpensLater() {
        let order = Set(CUDALibraries.loadOrder.map(\.soname))
        // DT_NEEDED of libonnxruntime_providers_cuda.so (1.31.1), and what it dlopens by soname.
        for needed in ["libcudart.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcurand.so.10", "libcudnn.so.9", "libcufft.so.12", "libnvrtc.so.13"] {
            #expect(order.contains(needed), "\(needed) is not preloaded")
        }
        #expect(CUDALibraries.loadOrder.first?.soname == "libcudart.so.13")
        #expect(CUDALibraries.loadOrder.allSatisfy { $0.folder == "cu13/lib" || $0.folder == "cudnn/lib" })
    }

    @Test func theGPUBuildFromSetupUsesTheNVIDIAFolderBesideItsLib() {
        let gpu = CUDALibraries.directory(forRuntimeLibrary: "/srv/vox/.deps/onnxruntime-gpu/lib/libonnxruntime.so.1") { _ in false }
        #expect(gpu?.path == "/srv/vox/.deps/onnxruntime-gpu/nvidia")
        #expect(CUDALibraries.directory(forRuntimeLibrary: "/srv/vox/.deps/onnxruntime/lib/libonnxruntime.so.1") { _ in false } == nil)
        let own = CUDALibraries.directory(forRuntimeLibrary: "/opt/ort/lib/libonnxruntime.so.1") { $0 == "/opt/ort/nvidia" }
        #expect(own?.path == "/opt/ort/nvidia")
        // A library the system loader found by name has no folder to look beside.
        #expect(CUDALibraries.directory(forRuntimeLibrary: "libonnxruntime.so.1") { _ in true } == nil)
    }

    @Test func aMissingFolderIsAClearErrorThatSaysHowToInstall() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vox-no-gpu-\(UUID().uuidString)/nvidia")
        let error = try #require(throws: ONNXRuntimeError.self) { try CUDALibraries.preload(from: folder) }
        #expect(error.message.contains(folder.path))
        #expect(error.message.contains("make setup GPU=1"))
        #expect(error.voxError.kind == .engineFailure, "the optimizer must treat it as an engine failure and fall back")
    }

    @Test func anIncompleteFolderNamesEveryMissingLibraryAndItsPackage() throws {
        let folder = try Self.folder(without: ["libcublasLt.so.13", "libcudnn_ops.so.9"])
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        #expect(CUDALibraries.missing(in: folder).map(\.soname) == ["libcublasLt.so.13", "libcudnn_ops.so.9"])
        let error = try #require(throws: ONNXRuntimeError.self) { try CUDALibraries.preload(from: folder) }
        #expect(error.message.contains("libcublasLt.so.13 (nvidia-cublas)"))
        #expect(error.message.contains("libcudnn_ops.so.9 (nvidia-cudnn-cu13)"))
        #expect(!error.message.contains("libcudart.so.13"))
    }

    @Test func aMissingDriverIsNamedBeforeAnyLibraryIsOpened() throws {
        let folder = try Self.folder(without: [])
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let error = try #require(throws: ONNXRuntimeError.self) {
            try CUDALibraries.preload(from: folder, driverLibrary: "libvoxserve-no-such-driver.so.1")
        }
        #expect(error.message.contains("libvoxserve-no-such-driver.so.1"))
        #expect(error.message.contains("NVIDIA driver"))
    }

    @Test func aLibraryThatWillNotLoadIsNamedWithItsPath() throws {
        // Every file present but none a shared library; libc stands in for the driver.
        let folder = try Self.folder(without: [])
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let error = try #require(throws: ONNXRuntimeError.self) { try CUDALibraries.preload(from: folder, driverLibrary: "libc.so.6") }
        let first = folder.appendingPathComponent("cu13/lib/libcudart.so.13").path
        #expect(error.message.contains("Cannot load libcudart.so.13 from \(first)"))
    }

    @Test func theCPUBuildHasNoCUDAFolderAndPreloadingIsANoOp() throws {
        let runtime = try ONNXRuntime.shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment))
        #expect(runtime.libraryPath.hasSuffix("onnxruntime/lib/libonnxruntime.so.1"))
        #expect(runtime.cudaLibraryDirectory == nil)
        try runtime.preloadCUDALibraries()
    }

    /// A fake `nvidia` folder holding a small non-library file for every library but `without`.
    static func folder(without: Set<String>) throws -> URL {
        let nvidia = FileManager.default.temporaryDirectory.appendingPathComponent("vox-gpu-\(UUID().uuidString)/nvidia")
        for library in CUDALibraries.loadOrder where !without.contains(library.soname) {
            let url = library.url(in: nvidia)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("not a shared library".utf8).write(to: url)
        }
        return nvidia
    }
}
