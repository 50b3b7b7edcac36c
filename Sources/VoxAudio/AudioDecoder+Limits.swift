extension AudioDecoder {
    /// What `AudioDecoder` accepts. The defaults suit reference recordings for voice cloning.
    public struct Limits: Sendable, Equatable {
        /// Largest encoded input, in bytes.
        public var maxBytes: Int
        /// Longest decoded audio, in seconds.
        public var maxDuration: Double
        /// Shortest decoded audio, in seconds (a recording with no frames at all is always refused).
        public var minDuration: Double

        public init(maxBytes: Int = 50_000_000, maxDuration: Double = 300, minDuration: Double = 0.1) {
            self.maxBytes = maxBytes
            self.maxDuration = maxDuration
            self.minDuration = minDuration
        }
    }
}
