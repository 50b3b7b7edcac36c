import Foundation
import VoxCore
import VoxONNX

extension ChatterboxEngine {
    /// What the conditioning depends on besides the reference's bytes and the speech encoder.
    var conditioningParameters: [String: String] {
        [
            "sample_rate": "\(Self.sampleRate)",
            "lufs": options.referenceLUFS(for: layout.flavor).map { "\($0)" } ?? "none",
            "max_seconds": "\(options.referenceMaxDuration)",
            "min_seconds": "\(options.referenceMinDuration)",
        ]
    }

    /// The voice of `reference`: from the conditioning store, or computed by the speech encoder.
    public func conditioning(for reference: VoiceReference) async throws -> ChatterboxConditioning {
        try await conditioningAndOutcome(for: reference).conditioning
    }

    /// The voice of `reference` and where it came from (what a request reports with its audio).
    public func conditioningAndOutcome(for reference: VoiceReference) async throws -> (conditioning: ChatterboxConditioning, outcome: ConditioningCacheOutcome) {
        let (tensors, outcome) = try await conditioningStore.conditioning(
            for: reference, engine: Self.engineID, modelFingerprint: conditioningFingerprint, parameters: conditioningParameters
        ) { [self] in
            try await self.encode(reference).tensors
        }
        return (try ChatterboxConditioning(tensors: tensors), outcome)
    }

    /// Runs the speech encoder on the prepared reference (never consults the store).
    public func encode(_ reference: VoiceReference) async throws -> ChatterboxConditioning {
        let audio = try await offload { try self.prepareReference(reference) }
        countEncoderRun()
        let input = try Tensor(floats: audio.samples, shape: [1, audio.samples.count], type: layout.encoderAudioType)
        let encoder = speechEncoder
        let names = layout.encoderOutputNames
        var outputs: [String: Tensor] = [:]
        do {
            let raw = try await offload { try encoder.run(["audio_values": input], outputNames: names) }
            for (standard, name) in zip(ChatterboxConditioning.outputNames, names) { outputs[standard] = raw[name] }
        } catch let error as ONNXRuntimeError {
            throw VoxError.engineFailure("The Chatterbox speech encoder failed on \(reference.label): \(error.message)", detail: error.description)
        }
        let conditioning = try ChatterboxConditioning(tensors: outputs)
        guard conditioning.speakerEmbeddings.floats().allSatisfy(\.isFinite), conditioning.audioFeatures.floats().allSatisfy(\.isFinite) else {
            throw VoxError.invalidAudio("The voice of \(reference.label) could not be encoded (the encoder gave non-finite values); try a cleaner recording.")
        }
        return conditioning
    }
}
