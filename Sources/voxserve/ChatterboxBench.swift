import Foundation
import VoxAudio
import VoxCore
import VoxEngines
import VoxONNX
import VoxOptimizer

/// `voxserve bench chatterbox`: Chatterbox through VoxServe beside the model card's Python ONNX
/// Runtime loop (`scripts/chatterbox_reference_loop.py`) on the same graphs, threads and token
/// count, one precision at a time, the two alternating, each run in its own process.
enum ChatterboxBench {
    static let sentence = "The quick brown fox jumps over the lazy dog, and then it runs far away into the quiet green forest."

    /// The process's peak resident set, in MiB: VmHWM of /proc/self/status. (getrusage's ru_maxrss
    /// is no good here: Linux carries it across exec, so a child started by a large benchmark
    /// process reports the parent's peak.)
    static func peakRSSMiB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
        else { return .nan }
        return kib / 1024
    }
}

/// One precision's figures, VoxServe beside the reference loop.
struct ChatterboxPrecisionBench: Codable {
    var precision: String
    var voxserveMsPerToken: Stats
    var referenceMsPerToken: Stats
    var voxserveFirstAudio: Stats
    var referenceFirstAudio: Stats
    var voxserveRTF: Stats
    var referenceRTF: Stats
    var voxservePeakRSSMiB: Stats
    var referencePeakRSSMiB: Stats
    var voxservePrefill: Stats
    var referencePrefill: Stats

    /// VoxServe's over the reference's (below 1: VoxServe is faster), kept in the results JSON.
    let perTokenRatio: Double
    let firstAudioRatio: Double

    init(
        precision: String, voxserveMsPerToken: Stats, referenceMsPerToken: Stats, voxserveFirstAudio: Stats, referenceFirstAudio: Stats,
        voxserveRTF: Stats, referenceRTF: Stats, voxservePeakRSSMiB: Stats, referencePeakRSSMiB: Stats, voxservePrefill: Stats, referencePrefill: Stats
    ) {
        self.precision = precision
        self.voxserveMsPerToken = voxserveMsPerToken
        self.referenceMsPerToken = referenceMsPerToken
        self.voxserveFirstAudio = voxserveFirstAudio
        self.referenceFirstAudio = referenceFirstAudio
        self.voxserveRTF = voxserveRTF
        self.referenceRTF = referenceRTF
        self.voxservePeakRSSMiB = voxservePeakRSSMiB
        self.referencePeakRSSMiB = referencePeakRSSMiB
        self.voxservePrefill = voxservePrefill
        self.referencePrefill = referencePrefill
        perTokenRatio = voxserveMsPerToken.median / referenceMsPerToken.median
        firstAudioRatio = voxserveFirstAudio.median / referenceFirstAudio.median
    }
}

struct ChatterboxBenchResult: Codable {
    /// "stand-in" (full size, random weights), "tiny" (the test fixtures) or "model".
    var label: String
    var modelDirectory: String
    var tokens: Int
    var threads: Int
    var audioSeconds: Double
    var precisions: [ChatterboxPrecisionBench]
    /// The precision with the lowest measured VoxServe real-time factor (what the CPU plan will prefer).
    var fastest: String?
}

extension Bench {
    /// The reference loop's interpreter: the stand-in venv (where `make chatterbox-standin` put
    /// torch's exporter and ONNX Runtime), else the test venv (numpy and ONNX Runtime).
    var referencePython: URL {
        get throws {
            for venv in ["standin-venv", "venv"] {
                if let url = paths.depsDirectory?.appendingPathComponent("\(venv)/bin/python"), FileManager.default.isExecutableFile(atPath: url.path) {
                    return url
                }
            }
            throw VoxError(.modelNotFound, "No Python with ONNX Runtime for the reference loop: run `make test` or `make chatterbox-standin` first.")
        }
    }

    /// The checkout's scripts/ folder: the first one above this binary (in .build/…/voxserve).
    static var scriptsDirectory: URL {
        var dir = executable.deletingLastPathComponent()
        while dir.path != "/" {
            let scripts = dir.appendingPathComponent("scripts")
            if FileManager.default.fileExists(atPath: scripts.appendingPathComponent("chatterbox_reference_loop.py").path) { return scripts }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: "scripts")
    }

    /// `name` in the checkout's scripts/ folder, or an error that says where it was looked for.
    static func script(_ name: String) throws -> URL {
        let script = scriptsDirectory.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: script.path) else {
            throw VoxError(.modelNotFound, "scripts/\(name) is not beside this binary's checkout (\(script.path)).")
        }
        return script
    }

    func chatterbox(modelDirectory: URL, label: String, tokens: Int, threads: Int) throws -> ChatterboxBenchResult {
        let python = try referencePython
        let script = try Self.script("chatterbox_reference_loop.py")
        let files = try ChatterboxModelFiles(directory: modelDirectory)
        let precisions = [ModelPrecision.fp32, .int8, .q4].filter { files.variants(for: .languageModel).contains($0) }
        // The export's own voice, else 10 s of a synthetic voiced signal (16-bit, as the loop reads).
        var reference = modelDirectory.appendingPathComponent("default_voice.wav")
        if !FileManager.default.fileExists(atPath: reference.path) {
            reference = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-bench-voice-\(UUID().uuidString).wav")
            let voice = AudioBuffer(samples: ChatterboxEngine.warmUpSignal(seconds: 10, sampleRate: ChatterboxEngine.sampleRate), sampleRate: ChatterboxEngine.sampleRate)
            try AudioEncoder(wavSampleFormat: .int16).encode(voice, as: .wav).write(to: reference)
        }
        defer { if !reference.path.hasPrefix(modelDirectory.path) { try? FileManager.default.removeItem(at: reference) } }
        print("chatterbox \(label): \(modelDirectory.path), \(tokens) tokens (\(String(format: "%.1f", Double(tokens) / 25)) s of speech), \(threads) threads, \(runs) runs each, VoxServe and the reference loop alternating")
        var results: [ChatterboxPrecisionBench] = []
        var audioSeconds = 0.0
        for precision in precisions {
            var vox: [ChatterboxBenchProcessResult] = []
            var ref: [ReferenceLoopResult] = []
            for _ in 0..<runs {
                let (_, voxOut) = try timed(Self.executable, [
                    "bench-chatterbox-run", "--model-dir", modelDirectory.path, "--precision", precision.rawValue,
                    "--threads", "\(threads)", "--tokens", "\(tokens)", "--reference", reference.path,
                ])
                vox.append(try JSONDecoder().decode(ChatterboxBenchProcessResult.self, from: Data(Self.lastLine(voxOut).utf8)))
                let json = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-refloop-\(UUID().uuidString).json")
                defer { try? FileManager.default.removeItem(at: json) }
                try timed(python, [
                    script.path, "--model-dir", modelDirectory.path, "--precision", precision.rawValue, "--threads", "\(threads)",
                    // Its --tokens counts the steps after the first: tokens − 1 gives the same number of tokens.
                    "--tokens", "\(tokens - 1)", "--reference", reference.path, "--text", ChatterboxBench.sentence, "--runs", "1", "--json", json.path,
                ])
                ref.append(try ReferenceLoopResult(contentsOf: json))
            }
            let runsVox = vox.flatMap(\.runs)
            audioSeconds = runsVox.first?.audioSeconds ?? 0
            let row = ChatterboxPrecisionBench(
                precision: precision.rawValue,
                voxserveMsPerToken: Stats(runsVox.map { $0.meanDecodeStepSeconds * 1000 }), referenceMsPerToken: Stats(ref.map(\.msPerToken)),
                voxserveFirstAudio: Stats(runsVox.map(\.firstAudioSeconds)), referenceFirstAudio: Stats(ref.map(\.firstAudioSeconds)),
                voxserveRTF: Stats(runsVox.map { $0.totalSeconds / max($0.audioSeconds, 1e-9) }), referenceRTF: Stats(ref.map(\.rtf)),
                voxservePeakRSSMiB: Stats(vox.map(\.peakRSSMiB)), referencePeakRSSMiB: Stats(ref.map(\.peakRSSMiB)),
                voxservePrefill: Stats(runsVox.map(\.prefillSeconds)), referencePrefill: Stats(ref.map(\.prefillSeconds)))
            results.append(row)
            print(Self.chatterboxLines(label: label, row).joined(separator: "\n"))
            print(String(format: "chatterbox %@ %@: RTF voxserve %.3f, reference loop %.3f; peak RSS voxserve %.0f MiB, reference loop %.0f MiB",
                         label, row.precision, row.voxserveRTF.median, row.referenceRTF.median, row.voxservePeakRSSMiB.median, row.referencePeakRSSMiB.median))
        }
        // Fastest for a listener: the lowest real-time factor (prefill, tokens and decoder together).
        let best = results.min { $0.voxserveRTF.median < $1.voxserveRTF.median }
        if let best, let fp32 = results.first(where: { $0.precision == "fp32" }) {
            print(String(format: "chatterbox %@: fastest %@ (RTF %.2f; %.1f ms/token, %.2f of fp32's)\n", label, best.precision, best.voxserveRTF.median,
                         best.voxserveMsPerToken.median, best.voxserveMsPerToken.median / fp32.voxserveMsPerToken.median))
        }
        return ChatterboxBenchResult(
            label: label, modelDirectory: modelDirectory.path, tokens: tokens, threads: threads, audioSeconds: audioSeconds,
            precisions: results, fastest: best?.precision)
    }

    /// The two comparison lines the issue asks for, exactly.
    static func chatterboxLines(label: String, _ r: ChatterboxPrecisionBench) -> [String] {
        [
            String(format: "chatterbox %@ %@: voxserve %.1f ms/token, reference loop %.1f ms/token, ratio %.2f",
                   label, r.precision, r.voxserveMsPerToken.median, r.referenceMsPerToken.median, r.perTokenRatio),
            String(format: "chatterbox %@ %@: time to first audio voxserve %.2f s, reference loop %.2f s, ratio %.2f",
                   label, r.precision, r.voxserveFirstAudio.median, r.referenceFirstAudio.median, r.firstAudioRatio),
        ]
    }

    static func lastLine(_ text: String) -> String {
        String(text.split(separator: "\n").last ?? "")
    }
}

/// What `scripts/chatterbox_reference_loop.py --json` writes.
struct ReferenceLoopResult {
    var msPerToken: Double
    var firstAudioSeconds: Double
    var prefillSeconds: Double
    var rtf: Double
    var peakRSSMiB: Double

    init(contentsOf url: URL) throws {
        guard let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
            throw VoxError.engineFailure("The reference loop wrote no JSON object to \(url.path).")
        }
        func number(_ key: String) throws -> Double {
            guard let value = (json[key] as? NSNumber)?.doubleValue else {
                throw VoxError.engineFailure("The reference loop's JSON has no number '\(key)' (keys: \(json.keys.sorted().joined(separator: ", "))).")
            }
            return value
        }
        msPerToken = try number("per_token_ms")
        firstAudioSeconds = try number("first_audio_ms") / 1000
        prefillSeconds = try number("prefill_ms") / 1000
        rtf = try number("rtf")
        peakRSSMiB = try number("peak_rss_mib")
    }
}

/// Saves what `voxserve bench chatterbox` measured, for the CPU plan to follow.
enum ChatterboxPrecisionMeasurement {
    static func url(paths: VoxPaths) -> URL {
        MeasuredPrecisionSpeed.url(cacheDirectory: paths.cacheDirectory)
    }

    static func save(_ result: ChatterboxBenchResult, paths: VoxPaths) throws {
        let cpu = HardwareProbe().probeCPU().modelName
        var rtf: [String: Double] = [:]
        for p in result.precisions { rtf[p.precision] = p.voxserveRTF.median }
        try MeasuredPrecisionSpeed(
            cpu: cpu, realTimeFactor: rtf, measuredAt: ISO8601DateFormatter().string(from: Date()),
            command: "voxserve bench chatterbox --tokens \(result.tokens) --threads \(result.threads)"
        ).save(cacheDirectory: paths.cacheDirectory)
    }
}
