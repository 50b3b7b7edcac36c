import CAudioIO
import VoxCore

/// Sample-rate conversion with libsoxr at its high quality setting (20-bit, linear phase).
public enum Resampler {
    /// `buffer` at `rate`; the same buffer when the rates already match. The result holds
    /// `round(count × rate / buffer.sampleRate)` samples, so the duration is kept.
    public static func resample(_ buffer: AudioBuffer, to rate: Int) throws -> AudioBuffer {
        guard rate > 0 else {
            throw VoxError.invalidInput("Cannot resample to \(rate) Hz: the target sample rate must be positive.")
        }
        guard buffer.sampleRate > 0 else {
            throw VoxError.invalidAudio("Cannot resample audio whose sample rate is \(buffer.sampleRate) Hz.")
        }
        if rate == buffer.sampleRate { return buffer }
        if buffer.samples.isEmpty { return AudioBuffer(samples: [], sampleRate: rate) }

        let inputCount = buffer.samples.count
        let ratio = Double(rate) / Double(buffer.sampleRate)
        var output = [Float](repeating: 0, count: Int((Double(inputCount) * ratio).rounded(.up)) + 16)
        var produced = 0
        var ioSpec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var qualitySpec = soxr_quality_spec(UInt(SOXR_HQ), 0)
        var runtimeSpec = soxr_runtime_spec(1)
        let outputCapacity = output.count
        let status = buffer.samples.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                soxr_oneshot(
                    Double(buffer.sampleRate), Double(rate), 1,
                    input.baseAddress, inputCount, nil,
                    out.baseAddress, outputCapacity, &produced,
                    &ioSpec, &qualitySpec, &runtimeSpec
                )
            }
        }
        try check(status, from: buffer.sampleRate, to: rate)
        output.removeSubrange(produced...)
        return AudioBuffer(samples: output, sampleRate: rate)
    }

    /// The one check for libsoxr: a non-nil `soxr_error_t` is its message.
    private static func check(_ status: soxr_error_t?, from source: Int, to target: Int) throws {
        guard let status else { return }
        throw VoxError.engineFailure(
            "Resampling from \(source) Hz to \(target) Hz failed (libsoxr: \(String(cString: status))).",
            detail: String(cString: status)
        )
    }
}
