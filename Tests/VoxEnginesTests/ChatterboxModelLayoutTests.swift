import Testing
import VoxCore
import VoxONNX
@testable import VoxEngines

/// The layout is read from declared inputs and outputs alone; these build them by hand.
@Suite struct ChatterboxModelLayoutTests {
    func info(_ name: String, _ type: TensorElementType = .float32, _ shape: [Int] = [-1, -1]) -> TensorInfo {
        TensorInfo(name: name, elementType: type, shape: shape)
    }

    func lm(layers: Int, kvType: TensorElementType = .float32, positionIDs: Bool = true, batch: Int = -1) -> ([TensorInfo], [TensorInfo]) {
        var inputs = [info("inputs_embeds", kvType, [batch, -1, 1024]), info("attention_mask", .int64)]
        if positionIDs { inputs.append(info("position_ids", .int64)) }
        var outputs = [info("logits", kvType, [batch, -1, 6563])]
        for i in 0..<layers {
            for kv in ["key", "value"] {
                inputs.append(info("past_key_values.\(i).\(kv)", kvType, [batch, 16, -1, 64]))
                outputs.append(info("present.\(i).\(kv)", kvType, [batch, 16, -1, 64]))
            }
        }
        return (inputs, outputs)
    }

    let encoder = ([TensorInfo(name: "audio_values", elementType: .float32, shape: [1, -1])],
                   ChatterboxConditioning.outputNames.map { TensorInfo(name: $0, elementType: .float32, shape: [1, -1]) })
    let decoder = (["speech_tokens", "speaker_embeddings", "speaker_features"].map { TensorInfo(name: $0, elementType: .float32, shape: [1, -1]) },
                   [TensorInfo(name: "waveform", elementType: .float32, shape: [1, -1])])

    @Test func turboExportHas24LayersPositionIDsAndNoExaggeration() throws {
        let layout = try ChatterboxModelLayout(
            speechEncoder: encoder, embedTokens: ([info("input_ids", .int64)], [info("inputs_embeds")]),
            languageModel: lm(layers: 24, kvType: .float16), conditionalDecoder: decoder)
        #expect(layout.flavor == .turbo)
        #expect(layout.layerCount == 24)
        #expect(layout.kvType == .float16)
        #expect(layout.pastNames.count == 48 && layout.pastNames[1] == "past_key_values.0.value")
        #expect(layout.presentNames[47] == "present.23.value")
        #expect(layout.lmTakesPositionIDs)
    }

    @Test func originalExportIsRecognisedByItsExaggerationInput() throws {
        let layout = try ChatterboxModelLayout(
            speechEncoder: encoder,
            embedTokens: ([info("input_ids", .int64), info("position_ids", .int64), info("exaggeration", .float32, [-1])], [info("inputs_embeds")]),
            languageModel: lm(layers: 30, positionIDs: false), conditionalDecoder: decoder)
        #expect(layout.flavor == .original)
        #expect(layout.layerCount == 30)
        #expect(layout.lmAcceptsBatchOfTwo)
        #expect(!layout.lmTakesPositionIDs)
        let fixedBatch = try ChatterboxModelLayout(
            speechEncoder: encoder,
            embedTokens: ([info("input_ids", .int64), info("exaggeration", .float32, [1])], [info("inputs_embeds")]),
            languageModel: lm(layers: 30, positionIDs: false, batch: 1), conditionalDecoder: decoder)
        #expect(!fixedBatch.lmAcceptsBatchOfTwo)
    }

    @Test func encoderOutputsNamedOtherwiseAreTakenByPosition() throws {
        let renamed = (encoder.0, ["cond_emb", "prompt_token", "ref_x_vector", "prompt_feat"].map { info($0) })
        let layout = try ChatterboxModelLayout(
            speechEncoder: renamed, embedTokens: ([info("input_ids", .int64)], [info("inputs_embeds")]),
            languageModel: lm(layers: 2), conditionalDecoder: decoder)
        #expect(layout.encoderOutputNames == ["cond_emb", "prompt_token", "ref_x_vector", "prompt_feat"])
    }

    @Test func aLanguageModelWithoutKVCacheOrWithUnpairedOutputsIsInvalid() throws {
        let embed = ([info("input_ids", .int64)], [info("inputs_embeds")])
        let noCache = #expect(throws: VoxError.self) {
            _ = try ChatterboxModelLayout(
                speechEncoder: encoder, embedTokens: embed, languageModel: lm(layers: 0), conditionalDecoder: decoder)
        }
        #expect(noCache?.kind == .invalidModel)
        var (inputs, outputs) = lm(layers: 2)
        outputs.removeLast()
        let unpaired = #expect(throws: VoxError.self) {
            _ = try ChatterboxModelLayout(
                speechEncoder: encoder, embedTokens: embed, languageModel: (inputs, outputs), conditionalDecoder: decoder)
        }
        #expect(unpaired?.message.contains("present.1.value") == true)
        let notChatterbox = #expect(throws: VoxError.self) {
            _ = try ChatterboxModelLayout(
                speechEncoder: ([info("input")], [info("output")]), embedTokens: embed, languageModel: lm(layers: 2), conditionalDecoder: decoder)
        }
        #expect(notChatterbox?.message.contains("audio_values") == true)
    }
}
