import Foundation
import VoxCore
import VoxONNX
import VoxOptimizer

/// A fresh folder under the system's temporary directory, removed when the body returns.
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

/// Counts how many times a compute closure ran.
actor ComputeCounter {
    private(set) var count = 0
    func increment() { count += 1 }
}

/// Holds computations until the test opens it.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }
}

struct TestComputeError: Error, Equatable {
    let attempt: Int
}

/// A small, valid-looking PCM WAV file whose samples depend on `seed`; `frames` sets its size.
func wavBytes(seed: UInt8, frames: Int = 256) -> Data {
    var data = Data()
    func append32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
    func append16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
    let dataBytes = UInt32(frames * 2)
    data.append(contentsOf: Array("RIFF".utf8))
    append32(36 + dataBytes)
    data.append(contentsOf: Array("WAVEfmt ".utf8))
    append32(16)
    append16(1)  // PCM
    append16(1)  // mono
    append32(16_000)
    append32(32_000)
    append16(2)
    append16(16)
    data.append(contentsOf: Array("data".utf8))
    append32(dataBytes)
    for i in 0..<frames {
        append16(UInt16(truncatingIfNeeded: Int(seed) &* 131 &+ i &* 7))
    }
    return data
}

/// What a fake engine "computes" from a reference: tensors derived from its bytes, so different
/// references give different conditionings.
func fakeConditioning(from reference: Data, floats: Int = 192) throws -> Conditioning {
    let bytes = [UInt8](reference)
    let embedding = (0..<floats).map { Float(bytes[$0 % bytes.count]) / 255 }
    let tokens = (0..<8).map { Int64(bytes[($0 * 31) % bytes.count]) }
    return [
        "speaker_embeddings": Tensor(float32: embedding, shape: [1, floats]),
        "audio_tokens": Tensor(int64: tokens, shape: [1, 8]),
    ]
}

/// A conditioning of exactly `bytes` bytes (a multiple of 4) whose values identify `tag`.
func sizedConditioning(bytes: Int, tag: Float) throws -> Conditioning {
    let count = bytes / 4
    return ["x": Tensor(float32: [Float](repeating: tag, count: count), shape: [count])]
}

func makeKey(_ reference: Data, engine: String = "test-engine", fingerprint: String = "model-1", parameters: [String: String] = [:]) -> ConditioningKey {
    ConditioningKey(referenceData: reference, engine: engine, modelFingerprint: fingerprint, parameters: parameters)
}
