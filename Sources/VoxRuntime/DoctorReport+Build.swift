import Foundation
import VoxAudio
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer
import VoxPhonemizer

extension DoctorReport {
    /// What the default voice says to prove that VoxServe speaks.
    static let probeText = "Hello."

    /// Inspects this installation through `factory` (its paths, settings and runtime), the way the
    /// CLI and the server build their engines. Never throws: a part that fails is reported with why.
    /// With `speakDefaultVoice`, the default voice is built through the optimizer as the server
    /// builds it (warm-up and fallbacks included) and speaks `probeText`; that also writes its
    /// optimized graph to the cache, as a first `speak` would.
    public static func build(
        factory: SynthesizerFactory, speakDefaultVoice: Bool = true
    ) async -> DoctorReport {
        let paths = factory.paths
        let chatterboxDirectory = paths.chatterboxDirectory
        let reportPaths = Paths(
            home: paths.home.path, cache: paths.cacheDirectory.path, deps: paths.depsDirectory?.path, voices: paths.voicesDirectory.path,
            optimizedModels: factory.optimizedModelDirectory.path, chatterbox: chatterboxDirectory.path)

        // ONNX Runtime, and the probe with its providers.
        var runtime: ONNXRuntime?
        var runtimeReport: Runtime
        do {
            let loaded = try factory.runtime()
            runtime = loaded
            runtimeReport = Runtime(ok: true, libraryPath: loaded.libraryPath, version: loaded.version, providers: loaded.availableProviders(), error: nil)
        } catch {
            runtimeReport = Runtime(ok: false, libraryPath: nil, version: nil, providers: [], error: describe(error))
        }
        let hardware = runtime.flatMap { _ in try? factory.hardware() } ?? HardwareProbe().probe(onnxRuntimeProviders: runtimeReport.providers)
        let gpu = GPU(
            available: !hardware.gpu.devices.isEmpty, devices: hardware.gpu.devices, driverVersion: hardware.gpu.driverVersion,
            cudaDriverVersion: hardware.gpu.cudaDriverVersion.map { "\($0 / 1000).\($0 % 1000 / 10)" },
            reason: hardware.gpu.devices.isEmpty ? (hardware.gpu.unavailableReason ?? "NVML lists no GPU") : nil)
        let gpuRuntime = inspectGPURuntime(factory: factory, runtime: runtime, gpuPresent: gpu.available)

        let espeak: Espeak
        do {
            let info = try await EspeakPhonemizer.shared.info()
            espeak = Espeak(ok: true, version: info.version, dataPath: info.dataPath, error: nil)
        } catch {
            espeak = Espeak(ok: false, version: nil, dataPath: nil, error: describe(error))
        }
        let formats = AudioFormat.allCases.map { AudioFormatSupport(format: $0.name, canEncode: AudioEncoder.canEncode($0)) }

        // The default voice first: its live run fills the optimized-model cache the plans report on.
        let voices = VoiceCatalog(paths: paths).list()
        let defaultEntry = voices.first { $0.name == VoiceCatalog.defaultVoice }
        var live: (report: OptimizationReport?, check: Check)?
        if speakDefaultVoice, runtime != nil, let defaultEntry {
            live = await speak(defaultEntry, factory: factory)
        }
        var plans: [ModelPlan] = []
        for entry in voices {
            var plan = planPiper(entry, factory: factory, runtimeLoaded: runtime != nil)
            if entry.name == VoiceCatalog.defaultVoice { plan.live = live?.report }
            plans.append(plan)
        }
        var chatterboxFound = false
        if FileManager.default.fileExists(atPath: chatterboxDirectory.path) {
            chatterboxFound = true
            plans.append(planChatterbox(at: chatterboxDirectory, factory: factory, runtimeLoaded: runtime != nil))
        }

        let optimizedCache = inspectOptimizedModels(factory.optimizedModelDirectory)
        let conditioning = await inspectConditioningCache(paths.cacheDirectory)

        var checks: [Check] = []
        checks.append(Check(
            name: "ONNX Runtime", ok: runtimeReport.ok, required: true,
            detail: runtimeReport.ok
                ? "\(runtimeReport.version ?? "?") from \(runtimeReport.libraryPath ?? "?") (\(runtimeReport.providers.joined(separator: ", ")))"
                : runtimeReport.error ?? "not loaded"))
        checks.append(Check(
            name: "espeak-ng", ok: espeak.ok, required: true,
            detail: espeak.ok ? "\(espeak.version ?? "?") with data in \(espeak.dataPath ?? "?")" : espeak.error ?? "not loaded"))
        checks.append(defaultVoiceCheck(live: live?.check, entry: defaultEntry, runtimeLoaded: runtime != nil, paths: paths, speak: speakDefaultVoice))
        let writable = formats.filter(\.canEncode).map(\.format)
        let unwritable = formats.filter { !$0.canEncode }.map(\.format)
        checks.append(Check(
            name: "Audio encoding", ok: formats.first { $0.format == "wav" }?.canEncode ?? false, required: true,
            detail: "libsndfile writes \(writable.joined(separator: ", "))" + (unwritable.isEmpty ? "" : "; not \(unwritable.joined(separator: ", "))")))
        checks.append(gpuCheck(gpu, build: factory.gpuBuild, runtimeInstalled: gpuRuntime.installed))
        checks.append(gpuRuntimeCheck(gpuRuntime, gpuPresent: gpu.available))
        checks.append(Check(
            name: "Chatterbox model", ok: chatterboxFound && plans.last?.plan != nil, required: false,
            detail: chatterboxFound
                ? (plans.last?.error ?? "\(chatterboxDirectory.path): \(plans.last?.plan?.primary?.label ?? "")\(plans.last?.plan?.primary?.batching.map { ", batch \($0.maxBatch)" } ?? "")")
                : "none in \(chatterboxDirectory.path) (set VOXSERVE_CHATTERBOX_DIR or put the model there for voice cloning)"))
        checks.append(Check(
            name: "Cache folder", ok: conditioning.writable, required: false,
            detail: conditioning.writable
                ? "\(paths.cacheDirectory.path) is writable"
                : "\(paths.cacheDirectory.path) is not writable: conditionings and optimized graphs are computed again on every start"))

        let ok = checks.allSatisfy { $0.ok || !$0.required }
        let verdict = verdict(ok: ok, checks: checks, live: live?.report, gpu: gpu, gpuRuntime: gpuRuntime, optimizer: factory.configuration.optimize)
        return DoctorReport(
            paths: reportPaths, onnxRuntime: runtimeReport, gpuRuntime: gpuRuntime, espeak: espeak, audioFormats: formats, hardware: hardware,
            gpu: gpu, optimizer: factory.configuration.optimize, plans: plans, optimizedModelCache: optimizedCache, conditioningCache: conditioning,
            checks: checks, ok: ok, verdict: verdict)
    }

    // MARK: - Parts

    static func inspectGPURuntime(factory: SynthesizerFactory, runtime: ONNXRuntime?, gpuPresent: Bool) -> GPURuntime {
        let install = "make setup GPU=1 (onnxruntime-gpu with CUDA 13 and cuDNN 9 from PyPI, about 1.6 GB; needs NVIDIA driver 580 or newer)"
        guard let library = factory.paths.gpuRuntimeLibrary, factory.gpuRuntimeInstalled else {
            return GPURuntime(
                installed: false, active: false, libraryPath: nil, packages: [], missingLibraries: [], cudaLibrariesLoaded: nil, error: nil,
                install: install, architectures: nil)
        }
        let root = library.deletingLastPathComponent().deletingLastPathComponent()
        let versions = (try? String(contentsOf: root.appendingPathComponent("versions.txt"), encoding: .utf8)) ?? ""
        let packages = versions.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        let missing = CUDALibraries.missing(in: root.appendingPathComponent("nvidia")).map(\.soname)
        let active = runtime?.libraryPath == library.path
        var loaded: Bool?
        var loadError: String?
        if active, gpuPresent, let runtime {
            do {
                try runtime.preloadCUDALibraries()
                loaded = true
            } catch {
                loaded = false
                loadError = describe(error)
            }
        }
        return GPURuntime(
            installed: true, active: active, libraryPath: library.path, packages: packages, missingLibraries: missing, cudaLibrariesLoaded: loaded,
            error: loadError, install: install, architectures: factory.gpuBuild.architectures?.map(\.name))
    }

    /// Builds the voice as `speak` and the server do and speaks `probeText` with it.
    static func speak(_ entry: VoiceEntry, factory: SynthesizerFactory) async -> (report: OptimizationReport?, check: Check) {
        let clock = ContinuousClock()
        do {
            let voice = try PiperVoice.load(modelURL: URL(fileURLWithPath: entry.modelPath))
            let start = clock.now
            let synthesizer = try await factory.piper(voice)
            let ready = clock.now
            let audio = try await synthesizer.synthesize(SynthesisRequest(text: probeText))
            let spoke = clock.now
            let report = await (synthesizer as? OptimizedSynthesizer)?.report
            if let problem = FallbackPolicy.problem(with: audio) {
                return (report, Check(name: "Default voice", ok: false, required: true, detail: "\(entry.name) gave unusable audio: \(problem)"))
            }
            let on = report?.activeEntry?.label ?? "the plain engine (optimizer off)"
            let detail = String(
                format: "%@ spoke %.2f s of audio in %.2f s on %@ (engine ready in %.2f s)", entry.name, audio.duration,
                (spoke - ready).seconds, on, (ready - start).seconds)
            return (report, Check(name: "Default voice", ok: true, required: true, detail: detail))
        } catch {
            return (nil, Check(name: "Default voice", ok: false, required: true, detail: "\(entry.name) cannot speak: \(describe(error))"))
        }
    }

    static func defaultVoiceCheck(live: Check?, entry: VoiceEntry?, runtimeLoaded: Bool, paths: VoxPaths, speak: Bool) -> Check {
        if let live { return live }
        let name = VoiceCatalog.defaultVoice
        guard let entry else {
            let folder = paths.setupModelsDirectory?.path ?? "the .deps/models folder"
            return Check(name: "Default voice", ok: false, required: true, detail: "\(name) is not installed in \(folder): run `make setup`")
        }
        guard runtimeLoaded else {
            return Check(name: "Default voice", ok: false, required: true, detail: "\(name) cannot speak without ONNX Runtime")
        }
        return Check(name: "Default voice", ok: true, required: true, detail: "\(name) installed at \(entry.modelPath) (not tried)")
    }

    static func planPiper(_ entry: VoiceEntry, factory: SynthesizerFactory, runtimeLoaded: Bool) -> ModelPlan {
        var result = ModelPlan(
            model: entry.name, engine: entry.engine, source: entry.source.rawValue, path: entry.modelPath, plan: nil, fallbacks: [], optimizedModel: nil,
            optimizedModelPath: nil, live: nil, error: nil)
        guard runtimeLoaded else {
            result.error = "no plan: ONNX Runtime is not loaded"
            return result
        }
        do {
            let voice = try PiperVoice.load(modelURL: URL(fileURLWithPath: entry.modelPath))
            let plan = try factory.plan(for: voice)
            result.plan = plan
            result.fallbacks = fallbacks(plan)
            if !factory.configuration.optimize {
                result.optimizedModel = "not used (optimizer off)"
            } else if let key = plan.primary?.optimizedModelCacheKey {
                let url = OptimizedModelFile.cachedModelURL(voice: voice, key: key, cacheDirectory: factory.optimizedModelDirectory)
                result.optimizedModelPath = url.path
                result.optimizedModel = FileManager.default.fileExists(atPath: url.path) ? "cached" : "not cached yet (the first load writes it)"
            } else {
                result.optimizedModel = "not used on \(plan.primary?.label ?? "this entry")"
            }
        } catch {
            result.error = describe(error)
        }
        return result
    }

    static func planChatterbox(at directory: URL, factory: SynthesizerFactory, runtimeLoaded: Bool) -> ModelPlan {
        var result = ModelPlan(
            model: "chatterbox", engine: "chatterbox", source: "directory", path: directory.path, plan: nil, fallbacks: [], optimizedModel: nil,
            optimizedModelPath: nil, live: nil, error: nil)
        guard runtimeLoaded else {
            result.error = "no plan: ONNX Runtime is not loaded"
            return result
        }
        do {
            let plan = try factory.plan(forChatterboxAt: directory)
            result.plan = plan
            result.fallbacks = fallbacks(plan)
            if !factory.configuration.optimize { result.optimizedModel = "not used (optimizer off)" }
        } catch {
            result.error = describe(error)
        }
        return result
    }

    /// Each entry after the first, as the step that takes over from the one before it.
    static func fallbacks(_ plan: ExecutionPlan) -> [Fallback] {
        zip(plan.entries, plan.entries.dropFirst()).map { from, to in
            Fallback(
                from: from.label, to: to.label,
                when: "\(from.label) fails to load, fails a request, or gives non-finite or silent audio")
        }
    }

    static func inspectOptimizedModels(_ directory: URL) -> OptimizedModelCache {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var files = 0
        var bytes = 0
        for name in names where name.hasSuffix(".onnx") && !name.hasPrefix(".") {
            files += 1
            let size = try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)[.size] as? NSNumber
            bytes += size?.intValue ?? 0
        }
        return OptimizedModelCache(directory: directory.path, files: files, bytes: bytes)
    }

    static func inspectConditioningCache(_ directory: URL) async -> ConditioningCacheState {
        var state = ConditioningCacheState(directory: directory.path, entries: 0, bytes: 0, writable: isWritable(directory), error: nil)
        do {
            let usage = try await DiskConditioningStore(directory: directory).usage()
            state.entries = usage.entries
            state.bytes = usage.bytes
        } catch {
            state.error = describe(error)
        }
        return state
    }

    /// Whether `directory`, or the nearest folder above it that exists (where it would be created), is writable.
    static func isWritable(_ directory: URL) -> Bool {
        var url = directory.standardizedFileURL
        while !FileManager.default.fileExists(atPath: url.path) {
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { return false }
            url = parent
        }
        return FileManager.default.isWritableFile(atPath: url.path)
    }

    static func gpuCheck(_ gpu: GPU, build: ONNXRuntimeGPUBuild = .cuda13, runtimeInstalled: Bool = false) -> Check {
        guard gpu.available else {
            return Check(name: "NVIDIA GPU", ok: false, required: false, detail: "none: \(gpu.reason ?? "NVML lists no GPU"); plans run on the CPU")
        }
        var usable = false
        let devices = gpu.devices.map { device -> String in
            var text = "\(device.name) (compute capability \(device.computeCapability), \(formatBytes(device.memoryTotalBytes))"
            text += device.cudaDeviceID.map { ", CUDA device \($0)" } ?? ", not visible to CUDA"
            if runtimeInstalled {
                let support = build.support(for: device.computeCapability)
                if !support.supported { text += "; cannot run the GPU build: \(support.reason ?? "")" }
                if support.supported && device.cudaDeviceID != nil { usable = true }
            } else if device.cudaDeviceID != nil {
                usable = true
            }
            return text + ")"
        }
        let driver = gpu.driverVersion.map { ", driver \($0)" } ?? ""
        let cuda = gpu.cudaDriverVersion.map { " (CUDA \($0))" } ?? ""
        return Check(name: "NVIDIA GPU", ok: usable, required: false, detail: devices.joined(separator: ", ") + driver + cuda)
    }

    static func gpuRuntimeCheck(_ runtime: GPURuntime, gpuPresent: Bool) -> Check {
        guard runtime.installed else {
            let why = gpuPresent ? "the GPU is unused" : "only useful with an NVIDIA GPU"
            return Check(name: "GPU runtime", ok: false, required: false, detail: "not installed (\(why)); install with \(runtime.install)")
        }
        let packages = runtime.packages.first.map { "\($0) in \(runtime.libraryPath ?? "")" } ?? (runtime.libraryPath ?? "")
        if !runtime.missingLibraries.isEmpty {
            return Check(
                name: "GPU runtime", ok: false, required: false,
                detail: "\(packages) is incomplete: \(runtime.missingLibraries.joined(separator: ", ")) missing; run make setup GPU=1 again")
        }
        if let error = runtime.error {
            return Check(name: "GPU runtime", ok: false, required: false, detail: "\(packages): \(error)")
        }
        if runtime.active {
            let loaded = runtime.cudaLibrariesLoaded == true ? ", CUDA libraries loaded" : ""
            return Check(name: "GPU runtime", ok: true, required: false, detail: "\(packages), active\(loaded)")
        }
        return Check(
            name: "GPU runtime", ok: gpuPresent ? false : true, required: false,
            detail: "\(packages), complete; not loaded: " + (gpuPresent ? "the process loaded another ONNX Runtime (VOXSERVE_ORT_LIBRARY?)" : "there is no GPU"))
    }

    static func verdict(ok: Bool, checks: [Check], live: OptimizationReport?, gpu: GPU, gpuRuntime: GPURuntime, optimizer: Bool) -> String {
        guard ok else {
            let failed = checks.filter { $0.required && !$0.ok }.map(\.name)
            return "Not ready: \(failed.joined(separator: ", ")) \(failed.count == 1 ? "is" : "are") broken. Run `make setup`, then `voxserve doctor` again."
        }
        var text = "Ready"
        if let active = live?.activeEntry {
            text += ": requests run on \(active.label)"
            if let fallbacks = live?.fallbacks, !fallbacks.isEmpty {
                text += " after \(fallbacks.count) fallback\(fallbacks.count == 1 ? "" : "s") (\(fallbacks.map { "\($0.entryLabel): \($0.reason)" }.joined(separator: "; ")))"
            }
        } else if !optimizer {
            text += " (optimizer off: plain engines)"
        }
        text += "."
        if !gpu.available {
            text += " CPU only: \(gpu.reason ?? "no GPU")."
        } else if !gpuRuntime.installed {
            text += " The NVIDIA GPU is unused until the GPU runtime is installed (make setup GPU=1)."
        }
        return text
    }

    static func describe(_ error: any Error) -> String {
        if let vox = error as? VoxError { return vox.message }
        if let ort = error as? ONNXRuntimeError { return ort.message }
        return String(describing: error)
    }

    static func formatBytes<T: BinaryInteger>(_ bytes: T) -> String {
        let value = Double(bytes)
        if value >= 1_073_741_824 { return String(format: "%.1f GiB", value / 1_073_741_824) }
        if value >= 1_048_576 { return String(format: "%.1f MiB", value / 1_048_576) }
        if value >= 1024 { return String(format: "%.1f KiB", value / 1024) }
        return "\(bytes) B"
    }
}
