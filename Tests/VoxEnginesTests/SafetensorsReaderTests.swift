import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxEngines

@Suite("SafetensorsReader")
struct SafetensorsReaderTests {
    @Test("an F32 file written by numpy holds exactly the .pt file's tensors, under Chatterbox's names")
    func readsFloat32() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let torch = try TorchLegacyReader.read(contentsOf: fixtures.weights)
        let safetensors = try SafetensorsReader.read(contentsOf: fixtures.exportSafetensors(dtype: "F32", names: "chatterbox"))
        #expect(safetensors["proj.weight"] == torch["linear.weight"])
        #expect(safetensors["proj.bias"] == torch["linear.bias"])
        #expect(safetensors["linear.weight"] == nil)
        for (name, tensor) in torch where !name.hasPrefix("linear.") {
            #expect(safetensors[name] == tensor, "\(name)")
        }
    }

    @Test("an F16 file holds the .pt values rounded to half precision")
    func readsFloat16() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let torch = try TorchLegacyReader.read(contentsOf: fixtures.weights)
        let half = try SafetensorsReader.read(contentsOf: fixtures.exportSafetensors(dtype: "F16", names: "resemblyzer"))
        #expect(Set(half.keys) == Set(torch.keys))
        let original = try #require(torch["lstm.weight_hh_l2"])
        let rounded = try #require(half["lstm.weight_hh_l2"])
        #expect(rounded.shape == original.shape)
        #expect(rounded.floats() != original.floats())
        for (r, o) in zip(rounded.floats(), original.floats()) {
            #expect(abs(r - o) <= abs(o) * 0x1p-11 + 0x1p-24)
        }
    }

    @Test("half-precision bit patterns widen to the right floats")
    func widensHalfPrecision() {
        #expect(StoredElementType.halfToFloat(0x3C00) == 1)
        #expect(StoredElementType.halfToFloat(0xC000) == -2)
        #expect(StoredElementType.halfToFloat(0x3555) == 0.333251953125)
        #expect(StoredElementType.halfToFloat(0x7BFF) == 65504)
        #expect(StoredElementType.halfToFloat(0x0001) == 0x1p-24)
        #expect(StoredElementType.halfToFloat(0x8000) == 0 && StoredElementType.halfToFloat(0x8000).sign == .minus)
        #expect(StoredElementType.halfToFloat(0x7C00) == .infinity)
        #expect(StoredElementType.halfToFloat(0x7E00).isNaN)
    }

    @Test("a header that overruns the file, or data that does not match its shape, is refused")
    func rejectsCorruptFiles() {
        var overrun = Data([0xFF, 0xFF, 0, 0, 0, 0, 0, 0])
        overrun.append(Data("{}".utf8))
        #expect(throws: VoxError.self) { try SafetensorsReader.read(overrun) }

        let header = Data(#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#.utf8)
        var mismatch = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Data($0) }
        mismatch.append(header)
        mismatch.append(Data(count: 12))
        do {
            _ = try SafetensorsReader.read(mismatch, source: "bad.safetensors")
            Issue.record("a tensor of 4 floats in 12 bytes was accepted")
        } catch let error as VoxError {
            #expect(error.kind == .invalidModel)
            #expect(error.message.contains("w"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
