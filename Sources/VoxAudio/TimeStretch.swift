import CAudioIO
import Foundation
import VoxCore

/// Changes how long audio lasts without changing its pitch: Rubber Band (Debian's
/// librubberband) in its offline mode, which studies the whole buffer first and then returns
/// exactly `ratio` times as many samples. Used for OpenAI's `speed`, which must scale a voice's
/// duration by 1/speed however the model's own length scale behaves.
public enum TimeStretch {
    /// `chunks`, each lasting `ratio` times as long (stretched off the cooperative pool).
    public static func stretching(_ chunks: AsyncThrowingStream<AudioChunk, any Error>, by ratio: Double) -> AsyncThrowingStream<AudioChunk, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await var chunk in chunks {
                        let audio = chunk.audio
                        chunk.audio = try await offload { try stretch(audio, by: ratio) }
                        continuation.yield(chunk)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// `buffer` lasting `ratio` times as long (0.25…4; 1 returns it unchanged).
    public static func stretch(_ buffer: AudioBuffer, by ratio: Double) throws -> AudioBuffer {
        guard ratio.isFinite, (0.25...4).contains(ratio) else {
            throw VoxError.invalidInput("A time-stretch ratio must be between 0.25 and 4 (got \(ratio)).")
        }
        guard ratio != 1, !buffer.isEmpty else { return buffer }
        guard buffer.sampleRate > 0, buffer.sampleRate <= 384_000, buffer.samples.count < Int(UInt32.max) / 8 else {
            throw VoxError.invalidAudio("Cannot time-stretch \(buffer.samples.count) samples at \(buffer.sampleRate) Hz.")
        }
        let options = RubberBandOptionProcessOffline.rawValue | RubberBandOptionEngineFiner.rawValue
            | RubberBandOptionFormantPreserved.rawValue
        guard let state = rubberband_new(UInt32(buffer.sampleRate), 1, Int32(bitPattern: options), ratio, 1.0) else {
            throw VoxError(.io, "Rubber Band could not start.")
        }
        defer { rubberband_delete(state) }
        let count = buffer.samples.count
        rubberband_set_expected_input_duration(state, UInt32(count))
        let block = 4096
        var output: [Float] = []
        output.reserveCapacity(Int(Double(count) * ratio) + block)
        var scratch = [Float](repeating: 0, count: block)

        func drain() {
            while true {
                let available = Int(rubberband_available(state))
                guard available > 0 else { return }
                let n = min(available, block)
                let got = scratch.withUnsafeMutableBufferPointer { out -> Int in
                    var plane: UnsafeMutablePointer<Float>? = out.baseAddress
                    return Int(rubberband_retrieve(state, &plane, UInt32(n)))
                }
                output.append(contentsOf: scratch[0..<got])
            }
        }

        buffer.samples.withUnsafeBufferPointer { input in
            for pass in 0..<2 {  // study the whole buffer, then process it
                var start = 0
                while start < count {
                    let n = min(block, count - start)
                    var plane: UnsafePointer<Float>? = input.baseAddress! + start
                    let final: Int32 = start + n >= count ? 1 : 0
                    if pass == 0 {
                        rubberband_study(state, &plane, UInt32(n), final)
                    } else {
                        rubberband_process(state, &plane, UInt32(n), final)
                        drain()
                    }
                    start += n
                }
            }
        }
        drain()  // offline mode processes synchronously: after the final block, all is available
        return AudioBuffer(samples: output, sampleRate: buffer.sampleRate)
    }
}
