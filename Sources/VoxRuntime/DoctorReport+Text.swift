import Foundation
import VoxONNX
import VoxOptimizer

/// The report as `voxserve doctor` prints it: sections, then ✓/✗ checks and the verdict.
extension DoctorReport {
    public var text: String {
        var out: [String] = ["VoxServe doctor", ""]
        func section(_ title: String) {
            if out.last != "" { out.append("") }
            out.append(title)
        }
        func row(_ label: String, _ value: String) {
            out.append("  " + label.padding(toLength: 14, withPad: " ", startingAt: 0) + value)
        }

        section("Paths")
        row("home", paths.home)
        row("cache", paths.cache)
        row("deps", paths.deps ?? "not found (run `make setup`, or set VOXSERVE_DEPS)")
        row("voices", paths.voices)
        row("chatterbox", paths.chatterbox)

        section("ONNX Runtime")
        if onnxRuntime.ok {
            row("library", onnxRuntime.libraryPath ?? "?")
            row("version", onnxRuntime.version ?? "?")
            row("providers", onnxRuntime.providers.joined(separator: ", "))
        } else {
            row("error", onnxRuntime.error ?? "not loaded")
        }
        if gpuRuntime.installed {
            row("GPU build", "\(gpuRuntime.libraryPath ?? "?")\(gpuRuntime.active ? " (active)" : " (installed, not loaded)")")
            if !gpuRuntime.packages.isEmpty { row("packages", gpuRuntime.packages.joined(separator: ", ")) }
            if !gpuRuntime.missingLibraries.isEmpty { row("missing", gpuRuntime.missingLibraries.joined(separator: ", ")) }
            if let error = gpuRuntime.error { row("CUDA", error) }
            row("kernels", gpuRuntime.architectures.map { $0.isEmpty ? "unknown" : $0.joined(separator: " ") }
                ?? "not read (\(ONNXRuntimeGPUBuild.architecturesFileName) missing: run make setup GPU=1 again)")
        } else {
            row("GPU build", "not installed; \(gpuRuntime.install)")
        }

        section("espeak-ng")
        if espeak.ok {
            row("version", espeak.version ?? "?")
            row("data", espeak.dataPath ?? "?")
        } else {
            row("error", espeak.error ?? "not loaded")
        }

        section("Audio formats (libsndfile)")
        out.append("  " + audioFormats.map { "\($0.format) \($0.canEncode ? "✓" : "✗")" }.joined(separator: "  "))

        section("Hardware")
        let cpu = hardware.cpu
        row("CPU", cpu.modelName + (cpu.vendor.map { " (\($0))" } ?? ""))
        var cores = "\(cpu.physicalCores) physical, \(cpu.logicalCores) logical; \(cpu.usableCores) usable"
        if cpu.allowedLogicalCores < cpu.logicalCores { cores += " (affinity: \(cpu.allowedLogicalCores) logical CPUs)" }
        if let quota = cpu.cpuQuota { cores += String(format: " (cgroup quota %.1f CPUs)", quota) }
        row("cores", cores)
        row("SIMD", cpu.features.names.isEmpty ? "none of avx2, fma, f16c, avx512, vnni, amx" : cpu.features.names.joined(separator: " "))
        var memory = "\(Self.formatBytes(hardware.memory.totalBytes)) total, \(Self.formatBytes(hardware.memory.availableBytes)) available"
        if let limit = hardware.memory.cgroupLimitBytes { memory += ", cgroup limit \(Self.formatBytes(limit))" }
        row("memory", memory)
        if gpu.available {
            for device in gpu.devices {
                let cuda = device.cudaDeviceID.map { "CUDA device \($0)" } ?? "not visible to CUDA"
                row("GPU \(device.index)", "\(device.name), compute capability \(device.computeCapability), \(Self.formatBytes(device.memoryTotalBytes)) (\(Self.formatBytes(device.memoryFreeBytes)) free), \(cuda)\(device.pciBusID.map { ", PCI \($0)" } ?? "")")
            }
            if let note = hardware.gpu.cudaMappingNote { row("CUDA ids", note) }
            row("driver", "\(gpu.driverVersion ?? "?")\(gpu.cudaDriverVersion.map { ", CUDA \($0)" } ?? "")")
        } else {
            row("GPU", "none: \(gpu.reason ?? "NVML lists no GPU")")
        }

        section("Execution plans" + (optimizer ? "" : " (optimizer off: VOXSERVE_OPTIMIZE=0, engines run plain)"))
        if plans.isEmpty { out.append("  no voices installed") }
        for model in plans {
            out.append("  \(model.model)  (\(model.engine), \(model.source): \(model.path))")
            if let error = model.error { out.append("    ✗ \(error)") }
            guard let plan = model.plan else { continue }
            for reason in plan.reasons { out.append("    \(reason)") }
            let active = model.live?.activeEntryIndex
            for (i, entry) in plan.entries.enumerated() {
                var marker = i == 0 ? "  plan" : "  fallback"
                if let active, model.live != nil { marker = i == active ? "  ← active" : (i < active ? "  ✗ failed" : marker) }
                let batch = entry.batching.map { $0.maxBatch == 1 ? ", batch 1 (each sentence alone)" : ", batch \($0.maxBatch) (sentences per step)" } ?? ""
                out.append("    \(i + 1). \(entry.label)\(batch)\(marker)")
                for reason in entry.reasons { out.append("       · \(reason)") }
            }
            if model.fallbacks.isEmpty {
                out.append("    Falls back to: nothing; \(plan.entries.last?.label ?? "this entry") is the last resort, so a failure there is the model's own.")
            } else {
                out.append("    Falls back:")
                for step in model.fallbacks { out.append("      \(step.to) when \(step.when)") }
            }
            if let live = model.live {
                for event in live.fallbacks { out.append("    ✗ \(event.entryLabel) failed at \(event.stage.rawValue): \(event.reason)") }
                if let warmUp = live.warmUpSeconds { out.append(String(format: "    Warm-up: %.2f s", warmUp)) }
                if let measurement = live.measurement { out.append("    Measured at warm-up: \(measurement.summary)") }
                for (graph, placement) in (live.placements ?? [:]).sorted(by: { $0.key < $1.key }) {
                    out.append("    Placement of \(graph): \(placement.summary)")
                    for warning in placement.warnings { out.append("      ! \(warning)") }
                }
            }
            if let state = model.optimizedModel {
                out.append("    Optimized graph: \(state)\(model.optimizedModelPath.map { state == "cached" ? " (\($0))" : "" } ?? "")")
            }
        }

        section("Caches")
        row("optimized", "\(optimizedModelCache.files) graph\(optimizedModelCache.files == 1 ? "" : "s"), \(Self.formatBytes(optimizedModelCache.bytes)) in \(optimizedModelCache.directory)")
        var conditioning = "\(conditioningCache.entries) entr\(conditioningCache.entries == 1 ? "y" : "ies"), \(Self.formatBytes(conditioningCache.bytes)) on disk in \(conditioningCache.directory)"
        if let error = conditioningCache.error { conditioning += " (\(error))" }
        row("conditioning", conditioning)

        section("Checks")
        for check in checks {
            let note = !check.ok && !check.required ? " (optional)" : ""
            out.append("  \(check.ok ? "✓" : "✗") \(check.name)\(note): \(check.detail)")
        }
        out.append("")
        out.append("Verdict: \(verdict)")
        return out.joined(separator: "\n")
    }
}
