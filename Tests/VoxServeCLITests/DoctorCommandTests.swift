import Foundation
import Testing

/// `voxserve doctor` through the built binary. On a machine without the NVIDIA driver (this
/// project's CI), the report must say there is no GPU and why; where the driver exists, the GPU
/// assertions are the ones that hold there.
@Suite struct DoctorCommandTests {
    /// Whether the NVIDIA driver's management library is on this machine.
    static let hasNVML: Bool = {
        guard let handle = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL) else { return false }
        dlclose(handle)
        return true
    }()

    /// The `--json` document as a dictionary.
    static func json(_ result: CLI.Result) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return try #require(object as? [String: Any], "doctor --json printed no JSON object: \(result.stdout.prefix(300))")
    }

    @Test func reportsTheRuntimeTheCPUProviderTheDefaultVoicesCPUPlanAndAReadyVerdict() async throws {
        let cli = try CLI()
        let result = try await cli.run(["doctor"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("✓ ONNX Runtime: 1.32.0 from "))
        #expect(out.contains("CPUExecutionProvider"))
        #expect(out.contains("✓ espeak-ng: "))
        #expect(out.contains("✓ Default voice: en_US-joe-medium spoke "))
        #expect(out.contains("  en_US-joe-medium  (piper, setup: "))
        #expect(out.contains("Verdict: Ready"))
        if !Self.hasNVML {
            #expect(out.contains("1. cpu fp32  ← active"))
            #expect(out.contains("✗ NVIDIA GPU (optional): none: libnvidia-ml.so.1 not found: no NVIDIA driver installed"))
            #expect(out.contains("CPU only: there is no usable NVIDIA GPU (libnvidia-ml.so.1 not found"))
            #expect(out.contains("Falls back to: nothing; cpu fp32 is the last resort"))
        }
        #expect(out.contains("make setup GPU=1"))
    }

    @Test func jsonIsOneDocumentWithEverySectionAndTheSameFindings() async throws {
        let cli = try CLI()
        let result = try await cli.run(["doctor", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Self.json(result)
        let expected: Set = [
            "paths", "onnxRuntime", "gpuRuntime", "espeak", "audioFormats", "hardware", "gpu", "optimizer", "plans", "optimizedModelCache",
            "conditioningCache", "checks", "ok", "verdict",
        ]
        #expect(expected.isSubset(of: Set(report.keys)), "missing \(expected.subtracting(report.keys))")
        #expect(report["ok"] as? Bool == true)

        let paths = try #require(report["paths"] as? [String: Any])
        #expect(paths["home"] as? String == cli.home.path)
        #expect(paths["cache"] as? String == cli.home.appendingPathComponent("cache").path)

        let runtime = try #require(report["onnxRuntime"] as? [String: Any])
        #expect(runtime["version"] as? String == "1.32.0")
        #expect((runtime["providers"] as? [String])?.contains("CPUExecutionProvider") == true)

        let hardware = try #require(report["hardware"] as? [String: Any])
        let cpu = try #require(hardware["cpu"] as? [String: Any])
        #expect((cpu["physicalCores"] as? Int ?? 0) >= 1)
        #expect(((hardware["memory"] as? [String: Any])?["totalBytes"] as? Int ?? 0) > 0)

        let gpu = try #require(report["gpu"] as? [String: Any])
        if !Self.hasNVML {
            #expect(gpu["available"] as? Bool == false)
            #expect((gpu["reason"] as? String)?.contains("libnvidia-ml.so.1 not found") == true)
        }

        let plans = try #require(report["plans"] as? [[String: Any]])
        let joe = try #require(plans.first { $0["model"] as? String == "en_US-joe-medium" })
        let plan = try #require(joe["plan"] as? [String: Any])
        let entries = try #require(plan["entries"] as? [[String: Any]])
        let last = try #require(entries.last)
        #expect(last["provider"] as? String == "cpu")
        #expect((last["components"] as? [[String: Any]])?.first?["precision"] as? String == "fp32")
        if !Self.hasNVML {
            #expect(entries.count == 1)
            #expect((joe["fallbacks"] as? [Any])?.isEmpty == true)
        }
        // The doctor built the default voice through the optimizer, which saved its optimized graph.
        let live = try #require(joe["live"] as? [String: Any])
        #expect(live["activeEntryIndex"] as? Int == 0)
        #expect(joe["optimizedModel"] as? String == "cached")
        let optimized = try #require(report["optimizedModelCache"] as? [String: Any])
        #expect(optimized["files"] as? Int == 1)
        let conditioning = try #require(report["conditioningCache"] as? [String: Any])
        #expect(conditioning["entries"] as? Int == 0)

        let checks = try #require(report["checks"] as? [[String: Any]])
        for name in ["ONNX Runtime", "espeak-ng", "Default voice", "Audio encoding"] {
            let check = try #require(checks.first { $0["name"] as? String == name }, "no \(name) check")
            #expect(check["required"] as? Bool == true)
            #expect(check["ok"] as? Bool == true, "\(name): \(check["detail"] ?? "")")
        }
    }

    @Test func anEmptyDepsFolderFailsWithAClearMessageAndNonZeroStatus() async throws {
        let cli = try CLI()
        let empty = cli.file("empty-deps")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let result = try await cli.run(["doctor"], environment: ["VOXSERVE_DEPS": empty.path, "VOXSERVE_ORT_LIBRARY": ""])
        #expect(result.status != 0)
        let out = result.stdout
        #expect(out.contains("✗ ONNX Runtime: ONNX Runtime failed: ONNX Runtime library not found (looked at \(empty.path)/onnxruntime/lib/libonnxruntime.so.1). Run `make setup`."))
        #expect(out.contains("✗ Default voice: en_US-joe-medium is not installed in \(empty.path)/models: run `make setup`"))
        #expect(out.contains("Verdict: Not ready: ONNX Runtime, Default voice are broken."))

        let json = try await cli.run(["doctor", "--json"], environment: ["VOXSERVE_DEPS": empty.path, "VOXSERVE_ORT_LIBRARY": ""])
        #expect(json.status != 0)
        let report = try Self.json(json)
        #expect(report["ok"] as? Bool == false)
        #expect((report["onnxRuntime"] as? [String: Any])?["ok"] as? Bool == false)
    }

    @Test func aChatterboxFolderGetsAPlanWithOrderedFallbacksEndingOnCPUFP32() async throws {
        let cli = try CLI()
        let model = cli.file("chatterbox-model")
        let onnx = model.appendingPathComponent("onnx")
        try FileManager.default.createDirectory(at: onnx, withIntermediateDirectories: true)
        for graph in ["speech_encoder", "embed_tokens", "language_model", "conditional_decoder"] {
            for suffix in ["", "_q4", "_quantized", "_fp16"] {
                try Data(repeating: 0, count: 1024).write(to: onnx.appendingPathComponent("\(graph)\(suffix).onnx"))
            }
        }
        let result = try await cli.run(["doctor", "--json"], environment: ["VOXSERVE_CHATTERBOX_DIR": model.path])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Self.json(result)
        let plans = try #require(report["plans"] as? [[String: Any]])
        let chatterbox = try #require(plans.first { $0["engine"] as? String == "chatterbox" })
        #expect(chatterbox["path"] as? String == model.path)
        let entries = try #require((chatterbox["plan"] as? [String: Any])?["entries"] as? [[String: Any]])
        let components = try #require(entries.first?["components"] as? [[String: Any]])
        #expect(Set(components.compactMap { $0["name"] as? String }) == ["speech_encoder", "embed_tokens", "language_model", "conditional_decoder"])
        #expect(components.allSatisfy { $0["cudaGraph"] as? Bool == false })

        // Every entry after the first takes over from the one before it; the chain ends on CPU fp32.
        let fallbacks = try #require(chatterbox["fallbacks"] as? [[String: Any]])
        #expect(fallbacks.count == entries.count - 1)
        for (i, step) in fallbacks.enumerated() {
            #expect((step["when"] as? String)?.contains("fails to load") == true)
            #expect(step["to"] as? String != step["from"] as? String, "step \(i)")
        }
        if let lastStep = fallbacks.last { #expect(lastStep["to"] as? String == "cpu fp32") }
        let check = try #require((report["checks"] as? [[String: Any]])?.first { $0["name"] as? String == "Chatterbox model" })
        #expect(check["ok"] as? Bool == true)

        let text = try await cli.run(["doctor"], environment: ["VOXSERVE_CHATTERBOX_DIR": model.path])
        #expect(text.stdout.contains("  chatterbox  (chatterbox, directory: \(model.path))"))
        if entries.count > 1 { #expect(text.stdout.contains("    Falls back:\n      ")) }
    }

    @Test func countsTheConditioningEntriesThatSpeakerEmbeddingsLeftOnDisk() async throws {
        let cli = try CLI()
        let a = cli.file("a.wav"), b = cli.file("b.wav")
        #expect(try await cli.run(["speak", "This is the first speaker reference, long enough for the encoder.", "-o", a.path]).status == 0)
        #expect(try await cli.run(["speak", "Another recording, which the speaker encoder turns into an embedding.", "-o", b.path]).status == 0)
        let similarity = try await cli.run(["voices", "similarity", a.path, b.path])
        #expect(similarity.status == 0, "\(similarity.stderr)")

        let report = try Self.json(try await cli.run(["doctor", "--json"]))
        let conditioning = try #require(report["conditioningCache"] as? [String: Any])
        #expect(conditioning["entries"] as? Int == 2)
        #expect((conditioning["bytes"] as? Int ?? 0) > 2 * 256 * 4, "two 256-float embeddings and their headers")
        #expect(try await cli.run(["doctor"]).stdout.contains("  conditioning  2 entries, "))
    }

    @Test func withTheOptimizerOffThePlainEngineSpeaksAndNoGraphIsSaved() async throws {
        let cli = try CLI()
        let result = try await cli.run(["doctor", "--json"], environment: ["VOXSERVE_OPTIMIZE": "0"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Self.json(result)
        #expect(report["optimizer"] as? Bool == false)
        let joe = try #require((report["plans"] as? [[String: Any]])?.first { $0["model"] as? String == "en_US-joe-medium" })
        #expect(joe["optimizedModel"] as? String == "not used (optimizer off)")
        #expect(joe["live"] == nil)
        #expect((report["optimizedModelCache"] as? [String: Any])?["files"] as? Int == 0)
        let check = try #require((report["checks"] as? [[String: Any]])?.first { $0["name"] as? String == "Default voice" })
        #expect((check["detail"] as? String)?.contains("the plain engine (optimizer off)") == true)
    }
}
