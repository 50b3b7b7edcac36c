import VoxCore
import VoxONNX

/// What the graphs' declared inputs and outputs say about an export: Turbo or the original model,
/// LM depth, KV-cache geometry and element types. Derived from `TensorInfo` alone, so it is a pure
/// function of the model files and testable without running anything.
public struct ChatterboxModelLayout: Sendable, Equatable {
    public enum Flavor: String, Sendable, Equatable {
        /// Chatterbox Turbo: GPT-2 backbone, position_ids, no exaggeration, no guidance.
        case turbo
        /// The original Chatterbox: exaggeration input to embed_tokens, classifier-free guidance.
        case original
    }

    public var flavor: Flavor
    /// Number of transformer layers (pairs of `past_key_values.{i}.key/value`).
    public var layerCount: Int
    public var kvHeads: Int
    public var headDim: Int
    /// Element type of the KV cache (float32, or float16 in fp16/q4f16 exports).
    public var kvType: TensorElementType
    /// Element type the language model takes `inputs_embeds` in.
    public var embedsType: TensorElementType
    /// True when the language model takes `position_ids`.
    public var lmTakesPositionIDs: Bool
    /// True when embed_tokens takes `position_ids` (the original export).
    public var embedTakesPositionIDs: Bool
    /// True when embed_tokens takes `exaggeration`.
    public var takesExaggeration: Bool
    /// True when the language model accepts a batch of 2 (needed for classifier-free guidance).
    public var lmAcceptsBatchOfTwo: Bool
    /// Names of the KV inputs in layer order, key before value, and the outputs that feed them.
    public var pastNames: [String]
    public var presentNames: [String]
    /// Element types the decoder wants its speaker inputs in, and the speech encoder its audio in.
    public var decoderSpeakerType: TensorElementType
    public var decoderFeaturesType: TensorElementType
    /// The speech encoder's outputs for audio_features, audio_tokens, speaker_embeddings and
    /// speaker_features, in that order.
    public var encoderOutputNames: [String]
    public var encoderAudioType: TensorElementType
    /// Inputs of the language model beyond the embeddings, mask, positions and cache, with what to
    /// feed them: `num_logits_to_keep` / `logits_to_keep` (1: only the last position's logits are
    /// needed) and `use_cache_branch` (true) of exports made with Optimum or recent transformers.
    public var lmExtraInputs: [ExtraInput]

    /// An input some exports declare that the generation loop feeds with a constant.
    public struct ExtraInput: Sendable, Equatable {
        public enum Value: Sendable, Equatable {
            case int64(Int64)
            case bool(Bool)
        }
        public var name: String
        public var value: Value
        /// The declared rank: 0 (a scalar) or 1 (one element).
        public var rank: Int
    }

    /// Extra inputs the loop knows how to feed.
    static let knownExtraInputs: [String: ExtraInput.Value] = [
        "num_logits_to_keep": .int64(1), "logits_to_keep": .int64(1), "use_cache_branch": .bool(true),
    ]

    public init(
        speechEncoder: (inputs: [TensorInfo], outputs: [TensorInfo]),
        embedTokens: (inputs: [TensorInfo], outputs: [TensorInfo]),
        languageModel: (inputs: [TensorInfo], outputs: [TensorInfo]),
        conditionalDecoder: (inputs: [TensorInfo], outputs: [TensorInfo])
    ) throws {
        func require(_ names: [String], in infos: [TensorInfo], of graph: String, kind: String) throws {
            let have = Set(infos.map(\.name))
            let missing = names.filter { !have.contains($0) }
            guard missing.isEmpty else {
                throw VoxError.invalidModel(
                    "\(graph) is not a Chatterbox graph: it has no \(kind) \(missing.joined(separator: ", ")) (it has \(infos.map(\.name).prefix(8).joined(separator: ", "))).")
            }
        }
        try require(["audio_values"], in: speechEncoder.inputs, of: "speech_encoder", kind: "input")
        // The conditioning outputs by name, or (exports that named them otherwise, e.g. cond_emb,
        // prompt_token, ref_x_vector, prompt_feat) by position when there are exactly four.
        let encoderNames = Set(speechEncoder.outputs.map(\.name))
        if ChatterboxConditioning.outputNames.allSatisfy(encoderNames.contains) {
            encoderOutputNames = ChatterboxConditioning.outputNames
        } else if speechEncoder.outputs.count == 4 {
            encoderOutputNames = speechEncoder.outputs.map(\.name)
        } else {
            try require(ChatterboxConditioning.outputNames, in: speechEncoder.outputs, of: "speech_encoder", kind: "output")
            encoderOutputNames = []
        }
        try require(["input_ids"], in: embedTokens.inputs, of: "embed_tokens", kind: "input")
        try require(["inputs_embeds", "attention_mask"], in: languageModel.inputs, of: "language_model", kind: "input")
        try require(["logits"], in: languageModel.outputs, of: "language_model", kind: "output")
        try require(["speech_tokens", "speaker_embeddings", "speaker_features"], in: conditionalDecoder.inputs, of: "conditional_decoder", kind: "input")
        guard !conditionalDecoder.outputs.isEmpty, !embedTokens.outputs.isEmpty else {
            throw VoxError.invalidModel("A Chatterbox graph declares no outputs.")
        }

        // Layers: past_key_values.{i}.key / .value, each fed by present.{i}.key / .value.
        var layers = 0
        while languageModel.inputs.contains(where: { $0.name == "past_key_values.\(layers).key" }) { layers += 1 }
        guard layers > 0 else {
            throw VoxError.invalidModel("language_model has no past_key_values.0.key input: VoxServe needs the export with a KV cache.")
        }
        var past: [String] = []
        var present: [String] = []
        let outputNames = Set(languageModel.outputs.map(\.name))
        for i in 0..<layers {
            for kv in ["key", "value"] {
                let input = "past_key_values.\(i).\(kv)"
                let output = "present.\(i).\(kv)"
                guard languageModel.inputs.contains(where: { $0.name == input }), outputNames.contains(output) else {
                    throw VoxError.invalidModel("language_model lacks \(input) or \(output): the KV cache inputs and outputs do not pair up.")
                }
                past.append(input)
                present.append(output)
            }
        }
        let standard = Set(["inputs_embeds", "attention_mask", "position_ids"] + past)
        var extras: [ExtraInput] = []
        for input in languageModel.inputs where !standard.contains(input.name) {
            guard let value = Self.knownExtraInputs[input.name], input.shape.count <= 1 else {
                throw VoxError.invalidModel(
                    "language_model has an input '\(input.name)' (shape \(input.shape)) that VoxServe does not know how to feed; it feeds inputs_embeds, attention_mask, position_ids, past_key_values.*, \(Self.knownExtraInputs.keys.sorted().joined(separator: ", ")).")
            }
            extras.append(ExtraInput(name: input.name, value: value, rank: input.shape.count))
        }
        lmExtraInputs = extras
        let firstKV = languageModel.inputs.first { $0.name == "past_key_values.0.key" }!
        guard firstKV.shape.count == 4 else {
            throw VoxError.invalidModel("language_model's past_key_values.0.key has rank \(firstKV.shape.count); expected [batch, heads, past, head_dim].")
        }
        let embeds = languageModel.inputs.first { $0.name == "inputs_embeds" }!
        let batch = embeds.shape.first ?? -1

        takesExaggeration = embedTokens.inputs.contains { $0.name == "exaggeration" }
        embedTakesPositionIDs = embedTokens.inputs.contains { $0.name == "position_ids" }
        lmTakesPositionIDs = languageModel.inputs.contains { $0.name == "position_ids" }
        flavor = takesExaggeration ? .original : .turbo
        layerCount = layers
        kvHeads = firstKV.shape[1] > 0 ? firstKV.shape[1] : 16
        headDim = firstKV.shape[3] > 0 ? firstKV.shape[3] : 64
        kvType = firstKV.elementType
        embedsType = embeds.elementType
        lmAcceptsBatchOfTwo = batch < 0 || batch == 2
        pastNames = past
        presentNames = present
        decoderSpeakerType = conditionalDecoder.inputs.first { $0.name == "speaker_embeddings" }!.elementType
        decoderFeaturesType = conditionalDecoder.inputs.first { $0.name == "speaker_features" }!.elementType
        encoderAudioType = speechEncoder.inputs.first { $0.name == "audio_values" }!.elementType
    }
}
