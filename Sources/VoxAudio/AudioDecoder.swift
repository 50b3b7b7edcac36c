import CAudioIO
import Foundation
import VoxCore

/// Decodes WAV, FLAC, Ogg Vorbis, Ogg Opus and MP3 (through libsndfile) into mono float32 audio at
/// the file's own sample rate; channels are averaged. Bytes are decoded in memory, never through a
/// temporary file.
///
/// Every refusal is a `VoxError` of kind `.invalidAudio` (`.unsupported` for an encoding this
/// build cannot read) whose message names the problem. Samples that are NaN or infinite make the
/// input damaged and are refused; a floating-point file whose peak exceeds full scale is scaled
/// down to a peak of 1, so the result always lies in [-1, 1].
public struct AudioDecoder: Sendable {
    public var limits: Limits

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Decodes a voice reference; its label names it in errors.
    public func decode(_ reference: VoiceReference) throws -> AudioBuffer {
        try decode(reference.data, label: reference.label)
    }

    /// Decodes a file, refusing one larger than `limits.maxBytes` before reading it.
    public func decode(contentsOf url: URL) throws -> AudioBuffer {
        let label = url.lastPathComponent
        let size: Int
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        } catch {
            throw VoxError.io("Cannot read audio file \(url.path): it does not exist or is not readable.", path: url.path)
        }
        if size > limits.maxBytes {
            throw tooLarge(size, subject: Self.subject(label))
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw VoxError.io("Cannot read audio file \(url.path): \(error.localizedDescription)", path: url.path)
        }
        return try decode(data, label: label)
    }

    /// Decodes encoded bytes. `label` (a file or voice name) names the input in errors.
    public func decode(_ data: Data, label: String? = nil) throws -> AudioBuffer {
        let subject = Self.subject(label)
        guard !data.isEmpty else {
            throw VoxError.invalidAudio("\(subject) is empty (0 bytes): send a WAV, FLAC, OGG or MP3 recording.")
        }
        guard data.count <= limits.maxBytes else {
            throw tooLarge(data.count, subject: subject)
        }
        let bytes = [UInt8](data)
        if let what = ContentSniffer.nonAudioDescription(of: bytes) {
            throw VoxError.invalidAudio("\(subject) is \(what), not audio: send a WAV, FLAC, OGG or MP3 recording.")
        }
        if let chunk = RIFFScanner.dataChunk(in: bytes), chunk.isTruncated {
            throw VoxError.invalidAudio(
                "\(subject) is truncated: its WAV header promises \(chunk.declaredSize) bytes of samples but only \(chunk.availableSize) are present. Upload the complete file."
            )
        }

        let file: SoundFile
        do {
            file = try SoundFile(reading: VirtualFile(bytes: bytes))
        } catch {
            throw Self.openFailure(error, subject: subject)
        }
        return try decode(file, subject: subject)
    }

    private func decode(_ file: SoundFile, subject: String) throws -> AudioBuffer {
        let channels = file.channels
        let rate = file.sampleRate
        guard channels > 0, (1000...768_000).contains(rate) else {
            throw VoxError.invalidAudio(
                "\(subject) is damaged: its header declares \(channels) channel(s) at \(rate) Hz. Re-export the recording."
            )
        }
        let maxFrames = Int(limits.maxDuration * Double(rate))
        let declared = file.frames
        if let declared {
            guard declared > 0 else { throw noFrames(subject) }
            if declared > maxFrames { throw tooLong(Double(declared) / Double(rate), subject: subject) }
        } else if file.majorFormat == Int32(SF_FORMAT_OGG) {
            // libsndfile finds an Ogg stream's length on its last complete page; without one the
            // file ends inside a page.
            throw VoxError.invalidAudio("\(subject) is truncated: the Ogg stream ends in the middle of a page. Upload the complete file.")
        }

        var mono: [Float] = []
        mono.reserveCapacity(min(declared ?? 0, maxFrames))
        let blockFrames = 8192
        var block = [Float](repeating: 0, count: blockFrames * channels)
        while true {
            let n: Int
            do {
                n = try block.withUnsafeMutableBufferPointer { try file.readFrames(into: $0.baseAddress!, frames: blockFrames) }
            } catch {
                let detail = (error as? SoundFileError)?.message ?? "\(error)"
                throw VoxError.invalidAudio(
                    "\(subject) is damaged or truncated: decoding stopped after \(mono.count) frames (libsndfile: \(detail)). Upload the complete, original file."
                )
            }
            if n == 0 { break }
            if channels == 1 {
                mono.append(contentsOf: block[0..<n])
            } else {
                let scale = 1 / Float(channels)
                for frame in 0..<n {
                    var sum: Float = 0
                    for c in 0..<channels { sum += block[frame * channels + c] }
                    mono.append(sum * scale)
                }
            }
            if mono.count > maxFrames { throw tooLong(nil, subject: subject) }
        }

        if let declared, mono.count < declared - Self.lengthTolerance(declared: declared, majorFormat: file.majorFormat) {
            throw VoxError.invalidAudio(
                "\(subject) is truncated or damaged: its header promises \(declared) frames but only \(mono.count) could be decoded. Upload the complete file."
            )
        }
        guard !mono.isEmpty else { throw noFrames(subject) }
        let duration = Double(mono.count) / Double(rate)
        if duration < limits.minDuration {
            throw VoxError.invalidAudio(
                "\(subject) is too short: \(Self.seconds(duration)), where at least \(Self.seconds(limits.minDuration)) is needed."
            )
        }
        var peak: Float = 0
        for x in mono {
            guard x.isFinite else {
                throw VoxError.invalidAudio("\(subject) is damaged: it contains NaN or infinite sample values. Re-export the recording.")
            }
            peak = max(peak, abs(x))
        }
        if peak > 1 {
            // Divide, not multiply by 1 / peak: near Float's largest values 1 / peak is subnormal,
            // and the rounded reciprocal can scale the peak to slightly more than 1.
            for i in mono.indices { mono[i] /= peak }
        }
        return AudioBuffer(samples: mono, sampleRate: rate)
    }

    /// How many frames short of the header's count a complete file may decode to. Lossless and
    /// Ogg files state their length exactly; an MP3 without a Xing/LAME tag only estimates it.
    private static func lengthTolerance(declared: Int, majorFormat: Int32) -> Int {
        majorFormat == Int32(SF_FORMAT_MPEG) ? max(4 * 1152, declared / 100) : 0
    }

    private static func openFailure(_ error: Error, subject: String) -> VoxError {
        guard let error = error as? SoundFileError else {
            return VoxError.invalidAudio("\(subject) cannot be decoded: \(error).")
        }
        switch error.kind {
        case .unrecognisedFormat:
            return VoxError.invalidAudio(
                "\(subject) is not audio in a format VoxServe reads (WAV, FLAC, OGG/Vorbis, OGG/Opus or MP3): libsndfile does not recognise it."
            )
        case .unsupportedEncoding:
            return VoxError(
                .unsupported,
                "\(subject) uses an encoding this build cannot decode (libsndfile: \(error.message)). Convert it to 16-bit WAV or FLAC.",
                detail: error.message
            )
        case .system, .malformedFile, .formatSpecific:
            return VoxError.invalidAudio(
                "\(subject) is damaged or truncated and cannot be decoded (libsndfile: \(error.message)). Upload the complete, original file."
            )
        }
    }

    private func tooLarge(_ size: Int, subject: String) -> VoxError {
        VoxError.invalidAudio(
            "\(subject) is too large: \(Self.size(size)), where the limit is \(Self.size(limits.maxBytes)). Send a shorter recording or a compressed format (FLAC, OGG or MP3)."
        )
    }

    private func tooLong(_ duration: Double?, subject: String) -> VoxError {
        let length = duration.map { Self.seconds($0) } ?? "more than \(Self.seconds(limits.maxDuration))"
        return VoxError.invalidAudio(
            "\(subject) is too long: \(length), where the limit is \(Self.seconds(limits.maxDuration)). Trim it to a shorter excerpt."
        )
    }

    private func noFrames(_ subject: String) -> VoxError {
        VoxError.invalidAudio("\(subject) contains no audio frames: its header is valid but it holds no samples. Record some speech.")
    }

    private static func subject(_ label: String?) -> String {
        label.map { "Audio '\($0)'" } ?? "The audio"
    }

    private static func size(_ bytes: Int) -> String {
        bytes >= 1_000_000 ? String(format: "%.1f MB", Double(bytes) / 1_000_000) : "\(bytes) bytes"
    }

    private static func seconds(_ seconds: Double) -> String {
        String(format: "%.2f s", seconds)
    }
}
