extension AudioEncoder {
    /// How `AudioFormat.wav` stores samples.
    public enum WAVSampleFormat: String, Sendable, CaseIterable {
        /// 16-bit signed integer PCM (`WAVE_FORMAT_PCM`), what every player reads.
        case int16
        /// 32-bit IEEE float (`WAVE_FORMAT_IEEE_FLOAT`), lossless for float audio.
        case float32
    }
}
