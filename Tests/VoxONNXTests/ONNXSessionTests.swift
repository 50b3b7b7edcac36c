import Foundation
import Testing
import VoxCore
@testable import VoxONNX

private let paths = VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment)

private func fixture(_ name: String) throws -> String {
    let deps = try #require(paths.depsDirectory, "run `make test` (setup) first: no .deps folder found")
    return deps.appendingPathComponent("test-models/\(name)").path
}

@Suite struct ONNXSessionTests {
    @Test func loadsTheSetupLibraryAndOffersTheCPUProvider() throws {
        let runtime = try ONNXRuntime.shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment))
        #expect(runtime.version == "1.32.0")
        #expect(runtime.availableProviders().contains("CPUExecutionProvider"))
    }

    @Test func describesInputsAndOutputsWithTypesAndDynamicDimensions() throws {
        let session = try ONNXSession(modelPath: try fixture("basic_ops.onnx"), runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        #expect(session.inputs.map(\.name).sorted() == ["half", "ids", "x"])
        let x = try #require(session.input(named: "x"))
        #expect(x.elementType == .float32)
        #expect(x.shape == [-1, 3])
        #expect(!x.isStatic)
        #expect(session.input(named: "half")?.elementType == .float16)
        #expect(session.output(named: "n")?.elementType == .int64)
        #expect(session.metadata["voxserve.fixture"] == "basic_ops")
    }

    @Test func runsFloat32Int64AndFloat16Tensors() throws {
        let session = try ONNXSession(modelPath: try fixture("basic_ops.onnx"), runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        let out = try session.run([
            "x": Tensor(float32: [1, 2, 3, 4, 5, 6], shape: [2, 3]),
            "ids": Tensor(int64: [41, -1, 0], shape: [3]),
            "half": Tensor(float16: [0.5, -2], shape: [2]),
        ])
        let y = try #require(out["y"])
        #expect(y.shape == [2, 3])
        #expect(y.floats() == [2.5, 3, 16, 8.5, 9, 22])
        #expect(out["n"]?.int64s() == [42, 0, 1])
        #expect(out["h"]?.elementType == .float16)
        #expect(out["h"]?.floats() == [1.5, -6])
    }

    @Test func selectedOutputsOnly() throws {
        let session = try ONNXSession(modelPath: try fixture("basic_ops.onnx"), runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        let out = try session.run([
            "x": Tensor(float32: [0, 0, 0], shape: [1, 3]),
            "ids": Tensor(int64: [1], shape: [1]),
            "half": Tensor(float16: [1, 1], shape: [2]),
        ], outputNames: ["n"])
        #expect(Array(out.keys) == ["n"])
    }

    @Test func wrongShapeIsASwiftErrorWithORTsMessage() throws {
        let session = try ONNXSession(modelPath: try fixture("basic_ops.onnx"), runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        #expect {
            _ = try session.run([
                "x": Tensor(float32: [1, 2], shape: [1, 2]),
                "ids": Tensor(int64: [1], shape: [1]),
                "half": Tensor(float16: [1, 1], shape: [2]),
            ])
        } throws: { error in
            guard let e = error as? ONNXRuntimeError else { return false }
            return e.code != 0 && e.message.contains("x")
        }
    }

    @Test func unknownInputNameIsRejected() throws {
        let session = try ONNXSession(modelPath: try fixture("basic_ops.onnx"), runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        #expect(throws: ONNXRuntimeError.self) { _ = try session.run(["nope": Tensor(int64: [1], shape: [1])]) }
    }

    @Test func missingModelFileIsModelNotFound() throws {
        let error = #expect(throws: ONNXRuntimeError.self) {
            _ = try ONNXSession(modelPath: "/nonexistent/model.onnx", runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        }
        #expect(error?.voxError.kind == .modelNotFound)
    }

    @Test func corruptModelFileIsInvalidModel() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("corrupt-\(UUID()).onnx")
        try Data("this is not a protobuf".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let error = #expect(throws: ONNXRuntimeError.self) {
            _ = try ONNXSession(modelPath: url.path, runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        }
        #expect(error?.voxError.kind == .invalidModel)
    }

    @Test func writesTheOptimizedModelWhenAsked() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("opt-\(UUID()).onnx")
        defer { try? FileManager.default.removeItem(at: url) }
        _ = try ONNXSession(
            modelPath: try fixture("basic_ops.onnx"),
            options: SessionOptions(intraOpThreads: 1, graphOptimizationLevel: .extended, optimizedModelPath: url.path),
            runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        #expect(FileManager.default.fileExists(atPath: url.path))
        let reloaded = try ONNXSession(modelPath: url.path, runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
        #expect(reloaded.inputs.count == 3)
    }

    @Test func aMissingLibraryIsAClearError() {
        #expect {
            _ = try ONNXRuntime(candidates: [URL(fileURLWithPath: "/nonexistent/libonnxruntime.so.1")], systemFallback: false)
        } throws: { error in
            (error as? ONNXRuntimeError)?.message.contains("make setup") ?? false
        }
    }
}
