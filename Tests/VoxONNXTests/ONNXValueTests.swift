import Foundation
import Testing
import VoxCore
@testable import VoxONNX

private func basicOps() throws -> ONNXSession {
    let deps = try #require(VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory, "run `make test` (setup) first: no .deps folder found")
    return try ONNXSession(modelPath: deps.appendingPathComponent("test-models/basic_ops.onnx").path, runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)))
}

@Suite struct ONNXValueTests {
    @Test func tensorToValueToTensorIsExactForFloat32Int64AndFloat16() throws {
        let runtime = try ONNXRuntime.shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment))
        let tensors = [
            Tensor(float32: [1.5, -0.0, .pi, .greatestFiniteMagnitude, -1e-30, 7], shape: [2, 3]),
            Tensor(int64: [.max, .min, 0, -1, 42], shape: [5]),
            Tensor(float16: [0.5, -2, 65504, 6.1e-5], shape: [2, 1, 2]),
            Tensor(float32: [], shape: [1, 16, 0, 64]),
        ]
        for tensor in tensors {
            let value = try ONNXValue(tensor, runtime: runtime)
            #expect(value.elementType == tensor.elementType)
            #expect(value.shape == tensor.shape)
            let back = try value.tensor()
            #expect(back == tensor)
            #expect(back.bytes == tensor.bytes)  // bit for bit, -0.0 included
        }
    }

    @Test func anOutputOfOneRunFeedsTheNextRun() throws {
        let session = try basicOps()
        let runtime = session.runtime
        let ids = try ONNXValue(Tensor(int64: [1], shape: [1]), runtime: runtime)
        let half = try ONNXValue(Tensor(float16: [1, 1], shape: [2]), runtime: runtime)
        var x = try ONNXValue(Tensor(float32: [1, 2, 3, 4, 5, 6], shape: [2, 3]), runtime: runtime)
        // y = 2x + [0.5, -1, 10], three times over, never leaving ORT in between.
        for _ in 0..<3 {
            let out = try session.run(values: ["x": x, "ids": ids, "half": half], outputNames: ["y"])
            x = try #require(out["y"])
        }
        #expect(x.shape == [2, 3])
        #expect(try x.tensor().floats() == [11.5, 9, 94, 35.5, 33, 118])
    }

    @Test func valuesOutliveTheRunAndTheSession() throws {
        let runtime = try ONNXRuntime.shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment))
        var kept: [String: ONNXValue] = [:]
        do {
            let session = try basicOps()
            kept = try session.run(
                values: [
                    "x": try ONNXValue(Tensor(float32: [1, 2, 3], shape: [1, 3]), runtime: runtime),
                    "ids": try ONNXValue(Tensor(int64: [41, -1], shape: [2]), runtime: runtime),
                    "half": try ONNXValue(Tensor(float16: [0.5, -2], shape: [2]), runtime: runtime),
                ],
                outputNames: ["y", "n", "h"])
        }
        // The inputs and the session are gone; the outputs still hold their numbers.
        #expect(try kept["y"]?.tensor().floats() == [2.5, 3, 16])
        #expect(try kept["n"]?.tensor().int64s() == [42, 0])
        #expect(kept["h"]?.elementType == .float16)
        #expect(try kept["h"]?.tensor().floats() == [1.5, -6])
        // And can be read from several threads at once.
        let y = try #require(kept["y"])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            #expect((try? y.tensor().floats()) == [2.5, 3, 16])
        }
    }

    @Test func unknownInputNameIsRejectedForValuesToo() throws {
        let session = try basicOps()
        let value = try ONNXValue(Tensor(int64: [1], shape: [1]), runtime: session.runtime)
        #expect(throws: ONNXRuntimeError.self) { _ = try session.run(values: ["nope": value], outputNames: ["n"]) }
    }
}

@Suite struct ONNXIOBindingTests {
    func feeds(_ runtime: ONNXRuntime) throws -> [String: ONNXValue] {
        [
            "x": try ONNXValue(Tensor(float32: [1, 2, 3, 4, 5, 6], shape: [2, 3]), runtime: runtime),
            "ids": try ONNXValue(Tensor(int64: [41, -1, 0], shape: [3]), runtime: runtime),
            "half": try ONNXValue(Tensor(float16: [0.5, -2], shape: [2]), runtime: runtime),
        ]
    }

    @Test func boundRunsGiveWhatPlainRunsGiveAndTheBindingIsReusable() throws {
        let session = try basicOps()
        let runtime = session.runtime
        let inputs = try feeds(runtime)
        let plain = try session.run(values: inputs, outputNames: ["y", "n", "h"])
        let binding = try ONNXIOBinding(session: session)
        for (name, value) in inputs { try binding.bind(input: name, value) }
        for name in ["y", "n", "h"] { try binding.bind(output: name, on: .cpu) }
        let bound = try binding.run()
        #expect(Set(bound.keys) == ["y", "n", "h"])
        for name in ["y", "n", "h"] {
            #expect(try bound[name]!.tensor() == plain[name]!.tensor(), "\(name)")
        }
        // Rebound with the first run's output as the next input, as a KV cache loop does.
        binding.clear()
        try binding.bind(input: "x", bound["y"]!)
        try binding.bind(input: "ids", inputs["ids"]!)
        try binding.bind(input: "half", inputs["half"]!)
        try binding.bind(output: "y", on: .cpu)
        let second = try binding.run()
        #expect(try second["y"]!.tensor().floats() == [5.5, 5, 42, 17.5, 17, 54])
    }

    @Test func aMissingBindingIsAnError() throws {
        let session = try basicOps()
        let binding = try ONNXIOBinding(session: session)
        try binding.bind(output: "y", on: .cpu)
        #expect(throws: ONNXRuntimeError.self) { _ = try binding.run() }
    }
}

