import Foundation
import Testing
import VoxCore
@testable import VoxOptimizer

@Suite struct ModelInventoryTests {
    private func parsed(_ fileName: String) -> String? {
        ModelPrecision.parse(fileName: fileName).map { "\($0.component)/\($0.precision)" }
    }

    @Test("ONNX file names split into component and precision")
    func fileNames() {
        #expect(parsed("language_model_q4f16.onnx") == "language_model/q4f16")
        #expect(parsed("language_model_q4.onnx") == "language_model/q4")
        #expect(parsed("conditional_decoder.onnx") == "conditional_decoder/fp32")
        #expect(parsed("speech_encoder_quantized.onnx") == "speech_encoder/int8")
        #expect(parsed("embed_tokens_fp16.onnx") == "embed_tokens/fp16")
        #expect(parsed("en_US-joe-medium.onnx") == "en_US-joe-medium/fp32")
        #expect(parsed("_fp16.onnx") == "_fp16/fp32")
        #expect(parsed("language_model.onnx_data") == nil)
        #expect(parsed("tokenizer.json") == nil)
    }

    @Test("an inventory from a directory listing adds external data to the sizes")
    func inventoryFromFiles() throws {
        let inventory = ModelInventory(
            model: "chatterbox-turbo",
            files: [
                "language_model.onnx": 100, "language_model.onnx_data": 1_000, "language_model_fp16.onnx": 50,
                "language_model_fp16.onnx_data": 500, "language_model_q4.onnx": 300, "conditional_decoder.onnx": 700,
                "tokenizer.json": 9,
            ],
            staticShapeComponents: ["conditional_decoder"]
        )
        #expect(inventory.components.map(\.name) == ["conditional_decoder", "language_model"])
        let lm = try #require(inventory.component(named: "language_model"))
        #expect(Set(lm.precisions) == [.fp32, .fp16, .q4])
        #expect(lm.bytes(for: .fp32) == 1_100)
        #expect(lm.bytes(for: .fp16) == 550)
        #expect(lm.bytes(for: .q4) == 300)
        #expect(!lm.hasStaticShapes)
        #expect(inventory.component(named: "conditional_decoder")?.hasStaticShapes == true)
    }

    @Test("scanning a directory without ONNX files says so")
    func scanEmptyDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-inventory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect { try ModelInventory(model: "none", scanning: dir) } throws: { ($0 as? VoxError)?.kind == .modelNotFound }
        try Data(count: 64).write(to: dir.appendingPathComponent("vits.onnx"))
        let inventory = try ModelInventory(model: "one", scanning: dir)
        #expect(inventory.components == [ModelComponent(name: "vits", variants: [ModelVariant(.fp32, bytes: 64)])])
    }
}
