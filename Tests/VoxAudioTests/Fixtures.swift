import Foundation
import Testing
import VoxCore

/// Signals, files and measurements the audio tests make on the fly (nothing is downloaded).
enum Fixtures {
    static func sine(frequency: Double, amplitude: Float = 0.5, seconds: Double, sampleRate: Int) -> AudioBuffer {
        let count = Int((seconds * Double(sampleRate)).rounded())
        let w = 2 * Double.pi * frequency / Double(sampleRate)
        return AudioBuffer(samples: (0..<count).map { amplitude * Float(sin(w * Double($0))) }, sampleRate: sampleRate)
    }

    /// Deterministic pseudo-random samples in [-amplitude, amplitude] (a linear congruential generator).
    static func noise(count: Int, amplitude: Float, seed: UInt64 = 42) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return amplitude * (Float(state >> 40) / Float(1 << 24) * 2 - 1)
        }
    }

    /// A new empty directory under the system's temporary folder.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("voxaudio-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs a command-line tool found on PATH (sox, espeak-ng) and requires it to succeed.
    static func run(_ tool: String, _ arguments: [String]) throws {
        let result = try ProcessRunner.run(tool: tool, arguments)
        try #require(result.status == 0, "\(tool) \(arguments.joined(separator: " ")) failed: \(result.stderrText)")
    }

    /// Speech from espeak-ng as a WAV file (22050 Hz, 16-bit mono) in `directory`.
    static func espeakSpeech(in directory: URL, text: String = "Hello there. This is a test of the voice server.") throws -> URL {
        let url = directory.appendingPathComponent("speech.wav")
        try run("espeak-ng", ["-w", url.path, text])
        return url
    }

    /// A hand-built `WAVE_FORMAT_IEEE_FLOAT` file with interleaved `samples`, written without libsndfile
    /// so that it can hold what an encoder would refuse (NaN, peaks above 1).
    static func floatWAV(_ samples: [Float], sampleRate: Int, channels: Int = 1) -> Data {
        var data = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        let dataSize = UInt32(samples.count * 4)
        data.append(contentsOf: Array("RIFF".utf8)); u32(36 + dataSize)
        data.append(contentsOf: Array("WAVE".utf8))
        data.append(contentsOf: Array("fmt ".utf8)); u32(16)
        u16(3); u16(UInt16(channels)); u32(UInt32(sampleRate)); u32(UInt32(sampleRate * channels * 4))
        u16(UInt16(channels * 4)); u16(32)
        data.append(contentsOf: Array("data".utf8)); u32(dataSize)
        for s in samples { u32(s.bitPattern) }
        return data
    }

    /// Little-endian integer at `offset`.
    static func read<T: FixedWidthInteger>(_ type: T.Type, _ data: Data, at offset: Int) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size {
            value |= T(data[data.startIndex + offset + i]) << (8 * i)
        }
        return value
    }

    /// Frequency of a periodic signal from its sign changes (two per period).
    static func zeroCrossingFrequency(_ buffer: AudioBuffer) -> Double {
        var crossings = 0
        for i in 1..<buffer.samples.count where (buffer.samples[i - 1] < 0) != (buffer.samples[i] < 0) {
            crossings += 1
        }
        return Double(crossings) / 2 / buffer.duration
    }

    /// Largest absolute difference between two equally long sample arrays.
    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}
