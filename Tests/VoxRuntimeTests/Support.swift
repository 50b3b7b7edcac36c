import Foundation
import VoxAudio
import VoxCore

/// A fresh folder under the system's temporary directory, removed when the body returns.
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

/// A short 16-bit WAV file whose samples depend on `seed`, written by VoxAudio's encoder.
func wavBytes(seed: UInt8, frames: Int = 256) -> Data {
    let samples = (0..<frames).map { i in Float(Int(seed) &* 131 &+ i &* 7 & 0x7FFF) / 32768 - 0.5 }
    return try! AudioEncoder().encode(AudioBuffer(samples: samples, sampleRate: 16_000), as: .wav)
}
