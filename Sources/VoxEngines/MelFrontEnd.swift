import Foundation

/// 16 kHz waveform → mel power spectrogram (not log): centred frames of 400 samples every 160,
/// periodic Hann window, |DFT|², triangular mel filters from 0 Hz to 8 kHz. The window-folded
/// real DFT (400 × 402) and the filterbank are precomputed matrices, so the whole spectrogram is
/// two matrix products that read the frames straight out of the padded signal.
struct MelFrontEnd: Sendable {
    static let sampleRate = 16000
    static let fftSize = 400
    static let hopLength = 160
    static let binCount = fftSize / 2 + 1

    let melCount: Int
    let padding: VoiceEncoderConfiguration.Padding
    /// Columns 0..<201: w[n]·cos(2πkn/N); columns 201..<402: w[n]·sin(2πkn/N).
    private let dft: PackedMatrix
    /// [201 bins × melCount].
    private let filters: PackedMatrix

    init(melCount: Int, scale: VoiceEncoderConfiguration.MelScale, normalization: VoiceEncoderConfiguration.MelNormalization, padding: VoiceEncoderConfiguration.Padding) {
        self.melCount = melCount
        self.padding = padding
        let n = Self.fftSize
        let bins = Self.binCount
        let window = (0..<n).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n)) }
        dft = PackedMatrix(rows: n, columns: 2 * bins) { t, column in
            let k = column % bins
            // (k·t) mod N keeps the angle small and exact
            let angle = 2 * Double.pi * Double((k * t) % n) / Double(n)
            return Float(window[t] * (column < bins ? cos(angle) : sin(angle)))
        }
        let bank = Self.filterbank(melCount: melCount, scale: scale, normalization: normalization)
        filters = PackedMatrix(rows: bins, columns: melCount) { bin, mel in bank[mel][bin] }
    }

    /// Triangular filters, `[melCount][201]`, as librosa.filters.mel (slaney) and
    /// torchaudio.functional.melscale_fbanks (htk, norm None) build them.
    static func filterbank(melCount: Int, scale: VoiceEncoderConfiguration.MelScale, normalization: VoiceEncoderConfiguration.MelNormalization) -> [[Float]] {
        let toMel: (Double) -> Double
        let toHz: (Double) -> Double
        switch scale {
        case .htk:
            toMel = { 2595 * log10(1 + $0 / 700) }
            toHz = { 700 * (pow(10, $0 / 2595) - 1) }
        case .slaney:
            let linearStep = 200.0 / 3, breakHz = 1000.0, breakMel = breakHz / linearStep, logStep = log(6.4) / 27
            toMel = { $0 >= breakHz ? breakMel + log($0 / breakHz) / logStep : $0 / linearStep }
            toHz = { $0 >= breakMel ? breakHz * exp(logStep * ($0 - breakMel)) : $0 * linearStep }
        }
        let nyquist = Double(sampleRate) / 2
        let low = toMel(0), high = toMel(nyquist)
        let edges = (0..<(melCount + 2)).map { toHz(low + (high - low) * Double($0) / Double(melCount + 1)) }
        let binHz = (0..<binCount).map { nyquist * Double($0) / Double(binCount - 1) }
        return (0..<melCount).map { m in
            let left = edges[m], center = edges[m + 1], right = edges[m + 2]
            let scale = normalization == .slaney ? 2 / (right - left) : 1
            return binHz.map { f in
                Float(max(0, min((f - left) / (center - left), (right - f) / (right - center))) * scale)
            }
        }
    }

    /// `frameCount` × `melCount` mel frames (row-major) of `samples` zero-padded to
    /// `paddedCount` samples. Frames past the `1 + paddedCount / 160` that the signal has are zero.
    func melFrames(_ samples: [Float], paddedCount: Int, frameCount: Int) -> [Float] {
        let half = Self.fftSize / 2
        let available = 1 + paddedCount / Self.hopLength
        let computed = min(frameCount, available)
        var signal = [Float](repeating: 0, count: paddedCount + 2 * half)
        signal.replaceSubrange(half..<(half + samples.count), with: samples)
        let n = samples.count
        if padding == .reflect && n > half && paddedCount == n {
            for j in 1...half {
                signal[half - j] = samples[j]
                signal[half + n - 1 + j] = samples[n - 1 - j]
            }
        }
        var mel = [Float](repeating: 0, count: frameCount * melCount)
        let chunk = 256
        let spectrumWidth = 2 * Self.binCount
        var spectrum = [Float](repeating: 0, count: chunk * spectrumWidth)
        var power = [Float](repeating: 0, count: chunk * Self.binCount)
        signal.withUnsafeBufferPointer { signal in
            spectrum.withUnsafeMutableBufferPointer { spectrum in
                power.withUnsafeMutableBufferPointer { power in
                    mel.withUnsafeMutableBufferPointer { mel in
                        var first = 0
                        while first < computed {
                            let count = min(chunk, computed - first)
                            // Frame t starts at t·hop in the padded signal: rows overlap.
                            dft.multiply(
                                signal.baseAddress! + first * Self.hopLength, aStride: Self.hopLength, rowCount: count,
                                into: spectrum.baseAddress!, cStride: spectrumWidth, start: .zero)
                            for row in 0..<count {
                                let re = spectrum.baseAddress! + row * spectrumWidth
                                let im = re + Self.binCount
                                let out = power.baseAddress! + row * Self.binCount
                                for k in 0..<Self.binCount { out[k] = re[k] * re[k] + im[k] * im[k] }
                            }
                            filters.multiply(
                                power.baseAddress!, aStride: Self.binCount, rowCount: count,
                                into: mel.baseAddress! + first * melCount, cStride: melCount, start: .zero)
                            first += count
                        }
                    }
                }
            }
        }
        return mel
    }
}
