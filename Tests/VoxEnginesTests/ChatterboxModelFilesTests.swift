import Foundation
import Testing
import VoxCore
@testable import VoxEngines
import VoxONNX

@Suite struct ChatterboxModelFilesTests {
    @Test func findsEachGraphsVariantsAndChoosesFP32ByDefault() throws {
        let files = try ChatterboxModelFiles(directory: try ChatterboxFixtures.directory())
        #expect(files.graphDirectory.lastPathComponent == "onnx")
        #expect(files.variants(for: .languageModel) == [.fp32, .fp16])
        #expect(files.variants(for: .conditionalDecoder) == [.fp32, .q4])
        #expect(files.variants(for: .embedTokens) == [.fp32, .int8])
        #expect(files.variants(for: .speechEncoder) == [.fp32])
        for component in ChatterboxModelFiles.components {
            #expect(files.selection[component] == .fp32)
        }
        #expect(files.url(for: .languageModel).lastPathComponent == "language_model.onnx")
    }

    @Test func selectingAVariantChangesTheFileAndTheFingerprint() throws {
        var files = try ChatterboxModelFiles(directory: try ChatterboxFixtures.directory())
        let before = files.fingerprint
        try files.select(.fp16, for: .languageModel)
        #expect(files.url(for: .languageModel).lastPathComponent == "language_model_fp16.onnx")
        #expect(files.fingerprint != before)
        #expect(files.fingerprint(of: .speechEncoder) == (try ChatterboxModelFiles(directory: files.directory)).fingerprint(of: .speechEncoder))
        let q4 = try files.selecting([.conditionalDecoder: .q4, .embedTokens: .int8])
        #expect(q4.url(for: .conditionalDecoder).lastPathComponent == "conditional_decoder_q4.onnx")
        #expect(q4.url(for: .embedTokens).lastPathComponent == "embed_tokens_quantized.onnx")
        #expect(q4.selection[.languageModel] == .fp16)
    }

    @Test func choosingAnAbsentVariantIsModelNotFound() throws {
        var files = try ChatterboxModelFiles(directory: try ChatterboxFixtures.directory())
        let error = #expect(throws: VoxError.self) { try files.select(.q4f16, for: .speechEncoder) }
        #expect(error?.kind == .modelNotFound)
        #expect(error?.message.contains("speech_encoder_q4f16.onnx") == true)
        #expect(files.selection[.speechEncoder] == .fp32)
    }

    @Test func precisionFileNamesFollowTheExport() {
        #expect(ModelPrecision.fp32.fileNames(for: .languageModel) == ["language_model.onnx"])
        #expect(ModelPrecision.q4f16.fileNames(for: .languageModel) == ["language_model_q4f16.onnx"])
        #expect(ModelPrecision.int8.fileNames(for: .speechEncoder) == ["speech_encoder_quantized.onnx", "speech_encoder_int8.onnx"])
    }

    @Test func graphsBesideTheTokenizerAndMissingGraphsAreHandled() throws {
        let fm = FileManager.default
        let source = try ChatterboxFixtures.directory()
        let flat = fm.temporaryDirectory.appendingPathComponent("vox-cbx-flat-\(UUID().uuidString)")
        try fm.createDirectory(at: flat, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: flat) }
        for name in ["speech_encoder_q4.onnx", "embed_tokens_fp16.onnx", "language_model_q4f16.onnx"] {
            try fm.copyItem(at: source.appendingPathComponent("onnx/speech_encoder.onnx"), to: flat.appendingPathComponent(name))
        }
        let missing = #expect(throws: VoxError.self) { _ = try ChatterboxModelFiles(directory: flat) }
        #expect(missing?.kind == .modelNotFound)
        #expect(missing?.message.contains("conditional_decoder.onnx") == true)

        try fm.copyItem(at: source.appendingPathComponent("onnx/speech_encoder.onnx"), to: flat.appendingPathComponent("conditional_decoder_q4.onnx"))
        let files = try ChatterboxModelFiles(directory: flat)
        #expect(files.graphDirectory == flat)
        // No fp32 anywhere: the first variant found.
        #expect(files.selection[.speechEncoder] == .q4)
        #expect(files.selection[.embedTokens] == .fp16)
        #expect(files.selection[.languageModel] == .q4f16)

        let nowhere = #expect(throws: VoxError.self) { _ = try ChatterboxModelFiles(directory: flat.appendingPathComponent("nope")) }
        #expect(nowhere?.kind == .modelNotFound)
    }
}
