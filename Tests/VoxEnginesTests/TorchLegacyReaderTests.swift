import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxEngines

@Suite("TorchLegacyReader")
struct TorchLegacyReaderTests {
    @Test("reads Resemblyzer's pretrained.pt: the names, shapes and values the numpy reference reads")
    func readsResemblyzerWeights() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let tensors = try TorchLegacyReader.read(contentsOf: fixtures.weights)
        #expect(tensors["lstm.weight_ih_l0"]?.shape == [1024, 40])
        for layer in 0..<3 {
            #expect(tensors["lstm.weight_hh_l\(layer)"]?.shape == [1024, 256])
            #expect(tensors["lstm.bias_ih_l\(layer)"]?.shape == [1024])
            #expect(tensors["lstm.bias_hh_l\(layer)"]?.shape == [1024])
        }
        #expect(tensors["lstm.weight_ih_l1"]?.shape == [1024, 256])
        #expect(tensors["linear.weight"]?.shape == [256, 256])
        #expect(tensors["linear.bias"]?.shape == [256])

        // The twelve LSTM tensors share one storage at different offsets: their values
        // must be the ones at their own offsets.
        let reference = try fixtures.describeWeights()
        #expect(Set(tensors.keys) == Set(reference.keys))
        for (name, expected) in reference {
            let tensor = try #require(tensors[name])
            #expect(tensor.shape == expected.shape, "\(name)")
            #expect(Array(tensor.floats().prefix(expected.first.count)) == expected.first, "\(name)")
            let sum = tensor.floats().reduce(Double(0)) { $0 + Double($1) }
            #expect(abs(sum - expected.sum) <= 1e-6 * max(1, abs(expected.sum)) + 1e-3, "\(name): \(sum) vs \(expected.sum)")
        }
    }

    @Test("a zip-based or foreign file is refused as not a legacy torch file")
    func rejectsForeignFile() {
        let zip = Data([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 60))
        do {
            _ = try TorchLegacyReader.read(zip, source: "model.pt")
            Issue.record("a zip file was accepted")
        } catch let error as VoxError {
            #expect(error.kind == .invalidModel)
            #expect(error.message.contains("model.pt"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("a truncated checkpoint is reported as truncated, not read short")
    func rejectsTruncatedFile() throws {
        let fixtures = try EncoderFixtures()
        defer { fixtures.removeDirectory() }
        let data = try Data(contentsOf: fixtures.weights)
        for length in [3000, data.count - 1000] {
            do {
                _ = try TorchLegacyReader.read(data.prefix(length), source: "cut.pt")
                Issue.record("\(length) bytes of \(data.count) were accepted")
            } catch let error as VoxError {
                #expect(error.kind == .invalidModel)
                #expect(error.message.contains("truncated"))
            }
        }
    }
}
