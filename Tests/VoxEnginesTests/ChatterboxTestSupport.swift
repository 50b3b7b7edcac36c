import Foundation
import Testing
import VoxAudio
import VoxCore
import VoxONNX
@testable import VoxEngines

/// The tiny Chatterbox-shaped models that scripts/make_chatterbox_test_models.py writes.
enum ChatterboxFixtures {
    static func directory(_ name: String = "chatterbox-tiny") throws -> URL {
        let deps = try #require(VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory, "run `make test` (setup) first: no .deps folder found")
        let dir = deps.appendingPathComponent("test-models/\(name)")
        try #require(
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("tokenizer.json").path),
            "run scripts/test-fixtures.sh first: \(dir.path) is missing")
        return dir
    }

    static func engine(
        _ name: String = "chatterbox-tiny", variants: [ModelComponentID: ModelPrecision] = [:],
        options: ChatterboxOptions = ChatterboxOptions(), store: (any SpeakerConditioningStore)? = nil
    ) throws -> ChatterboxEngine {
        try ChatterboxEngine(
            modelDirectory: try directory(name), variants: variants, options: options, runtime: try .shared(paths: .fromEnvironment(ProcessInfo.processInfo.environment)), conditioningStore: store)
    }

    /// A WAV reference: a voiced-sounding tone with vibrato and a syllable-rate envelope.
    static func reference(seconds: Double = 6, frequency: Double = 140, sampleRate: Int = 16_000, label: String = "ref.wav") throws -> VoiceReference {
        let n = Int(seconds * Double(sampleRate))
        let samples = (0..<n).map { i -> Float in
            let t = Double(i) / Double(sampleRate)
            let f = frequency * (1 + 0.03 * sin(2 * .pi * 5 * t))
            let envelope = 0.5 + 0.5 * sin(2 * .pi * 4 * t)
            return Float(0.3 * envelope * (sin(2 * .pi * f * t) + 0.4 * sin(4 * .pi * f * t)))
        }
        let data = try AudioEncoder(wavSampleFormat: .float32).encode(AudioBuffer(samples: samples, sampleRate: sampleRate), as: .wav)
        return VoiceReference(data: data, label: label)
    }

    /// Where the tiny language model emits the stop token (stored in its metadata).
    static func stopPosition(_ engine: ChatterboxEngine) throws -> Int {
        try #require(engine.languageModel.metadata["voxserve.stop_position"].flatMap { Int($0) })
    }

    /// Strings and the ids the fixture script's own BPE gives them: the BPE alone, or (`template`)
    /// as `tokenizer.json` gives them with its post-processor's template (Turbo's two placeholders).
    static func expectations(_ name: String, template: Bool = false) throws -> [(text: String, ids: [Int])] {
        let url = try directory(name).appendingPathComponent("tokenizer_expectations.json")
        let cases = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]])
        let key = template ? "template_ids" : "ids"
        return try cases.map { (try #require($0["text"] as? String), try #require($0[key] as? [Int])) }
    }

    /// A copy of fixture `name` in a new temporary folder, changed by `edit` (which gets the copy).
    static func copy(_ name: String, edit: (URL) throws -> Void) throws -> URL {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("vox-\(name)-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: try directory(name), to: copy)
        try edit(copy)
        return copy
    }
}

/// Counts conditioning lookups and computations, to see what the engine asks of its store.
actor CountingConditioningStore: SpeakerConditioningStore {
    private let inner = MemorySpeakerConditioningStore()
    private(set) var lookups = 0
    private(set) var lastParameters: [String: String] = [:]
    private(set) var lastFingerprint = ""

    func conditioning(
        for reference: VoiceReference, engine: String, modelFingerprint: String, parameters: [String: String],
        compute: @escaping @Sendable () async throws -> [String: Tensor]
    ) async throws -> (tensors: [String: Tensor], outcome: ConditioningCacheOutcome) {
        lookups += 1
        lastParameters = parameters
        lastFingerprint = modelFingerprint
        return try await inner.conditioning(
            for: reference, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters, compute: compute)
    }
}
