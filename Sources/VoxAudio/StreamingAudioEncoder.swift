import CLibAV
import Foundation
import VoxCore

/// Encodes an utterance while it is being spoken: `encode(_:)` returns the bytes each piece of
/// audio adds, `finish()` the encoder's and the container's tail. Concatenated, the pieces are one
/// complete file, so a server can send each sentence as soon as it is ready.
///
/// - `wav`: a 44-byte header declaring an open-ended stream (`WAVStream`), then 16-bit PCM at the
///   source rate.
/// - `pcm`: headerless 16-bit little-endian PCM at `pcmSampleRate` (OpenAI's `pcm`).
/// - `mp3`, `opus` (Ogg Opus), `ogg` (Ogg Vorbis), `flac`, `aac` (ADTS): FFmpeg's encoders
///   (libmp3lame, libopus, libvorbis, and FFmpeg's own FLAC and AAC) and muxers, writing to memory
///   without seeking, so nothing already sent is ever rewritten. A FLAC stream's header therefore
///   leaves the total length unknown, as a live FLAC stream does.
///
/// One encoder per utterance. Thread safety: `lock` serializes `encode` and `finish`, which own
/// all mutable state (FFmpeg's contexts included), so the encoder may move between tasks.
public final class StreamingAudioEncoder: @unchecked Sendable {
    /// The rate of `pcm` output (OpenAI's).
    public static let pcmSampleRate = 24_000

    public let format: AudioFormat
    public let sourceRate: Int
    /// The sample rate the listener receives.
    public let outputRate: Int
    private let libav: LibAVEncoder?
    private let lock = NSLock()
    private var wroteHeader = false
    private var finished = false

    /// - Throws: `VoxError` `.unsupported` when this build's FFmpeg lacks the encoder.
    public init(format: AudioFormat, sourceRate: Int) throws {
        guard sourceRate > 0, sourceRate <= 384_000 else {
            throw VoxError.invalidAudio("Cannot encode audio whose sample rate is \(sourceRate) Hz.")
        }
        self.format = format
        self.sourceRate = sourceRate
        switch format {
        case .wav:
            outputRate = sourceRate
            libav = nil
        case .pcm:
            outputRate = Self.pcmSampleRate
            libav = nil
        case .mp3, .opus, .ogg, .flac, .aac:
            let encoder = try LibAVEncoder(format: format, sourceRate: sourceRate)
            outputRate = encoder.sampleRate
            libav = encoder
        }
    }

    /// True when this build can write `format` incrementally.
    public static func canEncode(_ format: AudioFormat) -> Bool {
        switch format {
        case .wav, .pcm: true
        default: LibAVEncoder.codec(for: format).map { avcodec_find_encoder_by_name($0.encoder) != nil } ?? false
        }
    }

    /// The bytes `buffer` adds to the stream (possibly none yet: encoders hold back a few
    /// milliseconds). The first call also returns the container's header.
    public func encode(_ buffer: AudioBuffer) throws -> Data {
        try lock.withLock { try encodeLocked(buffer) }
    }

    private func encodeLocked(_ buffer: AudioBuffer) throws -> Data {
        guard !finished else { throw VoxError.invalidInput("This audio stream is already finished.") }
        guard buffer.sampleRate == sourceRate else {
            throw VoxError.invalidAudio("This stream was opened at \(sourceRate) Hz; a piece came at \(buffer.sampleRate) Hz.")
        }
        guard buffer.isFinite else {
            throw VoxError.invalidAudio("Cannot encode \(format.name): the audio contains NaN or infinite samples, so synthesis went wrong upstream.")
        }
        let audio = outputRate == sourceRate ? buffer : try Resampler.resample(buffer, to: outputRate)
        switch format {
        case .wav:
            var data = wroteHeader ? Data() : WAVStream.header(sampleRate: outputRate)
            wroteHeader = true
            data.append(WAVStream.pcm16(audio))
            return data
        case .pcm:
            return WAVStream.pcm16(audio)
        default:
            return try libav!.encode(audio.samples)
        }
    }

    /// The stream's tail: what the encoder held back and the container's trailer (a WAV stream
    /// that never got audio gets its header).
    public func finish() throws -> Data {
        try lock.withLock { try finishLocked() }
    }

    private func finishLocked() throws -> Data {
        guard !finished else { return Data() }
        finished = true
        switch format {
        case .wav: return wroteHeader ? Data() : WAVStream.header(sampleRate: outputRate)
        case .pcm: return Data()
        default: return try libav!.finish()
        }
    }

    /// A whole buffer in one go: `encode` then `finish`.
    public static func encodeWhole(_ buffer: AudioBuffer, as format: AudioFormat) throws -> Data {
        let encoder = try StreamingAudioEncoder(format: format, sourceRate: buffer.sampleRate)
        var data = try encoder.encode(buffer)
        data.append(try encoder.finish())
        return data
    }
}

/// Where libavformat writes: bytes collected until the next `take()`.
private final class ByteSink {
    var bytes = Data()

    func take() -> Data {
        defer { bytes = Data() }
        return bytes
    }
}

private let writeToSink: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt8>?, Int32) -> Int32 = { opaque, buffer, size in
    guard let opaque, let buffer, size > 0 else { return 0 }
    Unmanaged<ByteSink>.fromOpaque(opaque).takeUnretainedValue().bytes.append(buffer, count: Int(size))
    return size
}

/// One FFmpeg encoder feeding one muxer that writes to a `ByteSink`.
final class LibAVEncoder {
    struct Codec {
        var muxer: String
        var encoder: String
        /// Bits per second; 0 keeps the encoder's default (FLAC is lossless).
        var bitRate: Int
        /// Muxer options.
        var options: [(String, String)] = []
    }

    static func codec(for format: AudioFormat) -> Codec? {
        switch format {
        // No ID3 tag, and (the output cannot seek) no Xing header: plain MPEG frames.
        case .mp3: Codec(muxer: "mp3", encoder: "libmp3lame", bitRate: 64_000, options: [("id3v2_version", "0")])
        // Ogg pages of at most 100 ms, so that a sentence's audio leaves the muxer with the sentence.
        case .opus: Codec(muxer: "ogg", encoder: "libopus", bitRate: 32_000, options: [("page_duration", "100000")])
        case .ogg: Codec(muxer: "ogg", encoder: "libvorbis", bitRate: 64_000, options: [("page_duration", "100000")])
        case .flac: Codec(muxer: "flac", encoder: "flac", bitRate: 0)
        case .aac: Codec(muxer: "adts", encoder: "aac", bitRate: 64_000)
        case .wav, .pcm: nil
        }
    }

    let sampleRate: Int
    private let format: AudioFormat
    private var formatContext: UnsafeMutablePointer<AVFormatContext>?
    private var codecContext: UnsafeMutablePointer<AVCodecContext>?
    private var ioContext: UnsafeMutablePointer<AVIOContext>?
    private let stream: UnsafeMutablePointer<AVStream>
    private let sink = ByteSink()
    private let sampleFormat: AVSampleFormat
    /// Samples per frame the encoder takes (its last may be shorter when `smallLastFrame`).
    private let frameSize: Int
    private let smallLastFrame: Bool
    private var pending: [Float] = []
    private var samplesSent: Int64 = 0

    init(format: AudioFormat, sourceRate: Int) throws {
        self.format = format
        Self.quietLogging
        guard let spec = Self.codec(for: format), let codec = avcodec_find_encoder_by_name(spec.encoder) else {
            throw VoxError(.unsupported, "This build's FFmpeg has no encoder for \(format.name); choose wav or pcm instead.")
        }
        sampleRate = Self.rate(for: codec, sourceRate: sourceRate)
        guard let sampleFormat = Self.sampleFormat(for: codec) else {
            throw VoxError(.unsupported, "FFmpeg's \(spec.encoder) takes no sample format VoxServe writes.")
        }
        self.sampleFormat = sampleFormat

        var output: UnsafeMutablePointer<AVFormatContext>?
        try Self.check(avformat_alloc_output_context2(&output, nil, spec.muxer, nil), "opening the \(spec.muxer) muxer")
        guard let output else { throw VoxError(.unsupported, "FFmpeg has no \(spec.muxer) muxer.") }
        formatContext = output
        guard let context = avcodec_alloc_context3(codec), let stream = avformat_new_stream(output, nil) else {
            avformat_free_context(output)
            throw VoxError(.io, "FFmpeg could not allocate an encoder.")
        }
        codecContext = context
        self.stream = stream
        // From here on, `deinit` releases what was allocated, whatever fails.
        context.pointee.sample_rate = Int32(sampleRate)
        context.pointee.sample_fmt = sampleFormat
        av_channel_layout_default(&context.pointee.ch_layout, 1)
        context.pointee.time_base = AVRational(num: 1, den: Int32(sampleRate))
        if spec.bitRate > 0 { context.pointee.bit_rate = Int64(spec.bitRate) }
        if output.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        try Self.check(avcodec_open2(context, codec, nil), "opening \(spec.encoder)")
        try Self.check(avcodec_parameters_from_context(stream.pointee.codecpar, context), "describing the stream")
        stream.pointee.time_base = context.pointee.time_base

        let capabilities = codec.pointee.capabilities
        let variable = capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE != 0 || context.pointee.frame_size <= 0
        frameSize = variable ? 4096 : Int(context.pointee.frame_size)
        smallLastFrame = variable || capabilities & AV_CODEC_CAP_SMALL_LAST_FRAME != 0

        let bufferSize: Int32 = 16 * 1024
        guard let ioBuffer = av_malloc(Int(bufferSize))?.assumingMemoryBound(to: UInt8.self),
              let io = avio_alloc_context(ioBuffer, bufferSize, 1, Unmanaged.passUnretained(sink).toOpaque(), nil, writeToSink, nil)
        else { throw VoxError(.io, "FFmpeg could not allocate an output buffer.") }
        ioContext = io
        output.pointee.pb = io
        output.pointee.flags |= AVFMT_FLAG_CUSTOM_IO

        var options: OpaquePointer?
        for (key, value) in spec.options { av_dict_set(&options, key, value, 0) }
        defer { av_dict_free(&options) }
        try Self.check(avformat_write_header(output, &options), "writing the \(spec.muxer) header")
    }

    deinit {
        avcodec_free_context(&codecContext)
        if ioContext != nil {
            av_freep(&ioContext!.pointee.buffer)  // avio may have replaced the buffer it was given
            avio_context_free(&ioContext)
        }
        if let formatContext {
            formatContext.pointee.pb = nil
            avformat_free_context(formatContext)
        }
    }

    /// Encodes whole frames of `samples` (the rest waits for more) and returns what the muxer wrote.
    func encode(_ samples: [Float]) throws -> Data {
        pending.append(contentsOf: samples)
        var start = 0
        while pending.count - start >= frameSize {
            try send(pending[start..<(start + frameSize)])
            start += frameSize
        }
        pending.removeFirst(start)
        return try drainOutput()
    }

    /// Encodes what is left (padded with silence when the encoder takes only whole frames),
    /// flushes the encoder and writes the trailer.
    func finish() throws -> Data {
        if !pending.isEmpty {
            if !smallLastFrame { pending.append(contentsOf: repeatElement(0, count: frameSize - pending.count)) }
            try send(pending[...])
            pending = []
        }
        try Self.check(avcodec_send_frame(codecContext, nil), "flushing the encoder")
        try receivePackets()
        try Self.check(av_write_trailer(formatContext), "writing the trailer")
        avio_flush(ioContext)
        return sink.take()
    }

    private func send(_ samples: ArraySlice<Float>) throws {
        var allocated = av_frame_alloc()
        guard let frame = allocated else { throw VoxError(.io, "FFmpeg could not allocate a frame.") }
        defer { av_frame_free(&allocated) }
        frame.pointee.nb_samples = Int32(samples.count)
        frame.pointee.format = sampleFormat.rawValue
        frame.pointee.sample_rate = Int32(sampleRate)
        try Self.check(av_channel_layout_copy(&frame.pointee.ch_layout, &codecContext!.pointee.ch_layout), "describing a frame")
        try Self.check(av_frame_get_buffer(frame, 0), "allocating a frame")
        frame.pointee.pts = samplesSent
        samplesSent += Int64(samples.count)
        // Mono: planar and packed layouts are the same single plane.
        let plane = UnsafeMutableRawPointer(frame.pointee.data.0!)
        switch sampleFormat {
        case AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_FLTP:
            let out = plane.assumingMemoryBound(to: Float.self)
            for (i, sample) in samples.enumerated() { out[i] = min(max(sample, -1), 1) }
        case AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_S16P:
            let out = plane.assumingMemoryBound(to: Int16.self)
            for (i, sample) in samples.enumerated() { out[i] = PCM16.sample(sample) }
        default:  // S32, S32P
            let out = plane.assumingMemoryBound(to: Int32.self)
            for (i, sample) in samples.enumerated() { out[i] = Int32(PCM16.sample(sample)) << 16 }
        }
        try Self.check(avcodec_send_frame(codecContext, frame), "encoding")
        try receivePackets()
    }

    private func receivePackets() throws {
        var allocated = av_packet_alloc()
        guard let packet = allocated else { throw VoxError(.io, "FFmpeg could not allocate a packet.") }
        defer { av_packet_free(&allocated) }
        while true {
            let status = avcodec_receive_packet(codecContext, packet)
            if status == vox_averror_eagain() || status == vox_averror_eof() { return }
            try Self.check(status, "encoding")
            av_packet_rescale_ts(packet, codecContext!.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            let written = av_write_frame(formatContext, packet)
            av_packet_unref(packet)
            try Self.check(written, "writing a packet")
        }
    }

    private func drainOutput() throws -> Data {
        // A muxer that buffers (Ogg) writes its finished pages on a null packet.
        if format == .opus || format == .ogg { try Self.check(av_write_frame(formatContext, nil), "flushing the muxer") }
        avio_flush(ioContext)
        return sink.take()
    }

    /// The lowest rate the codec takes at or above `sourceRate` (its highest if none is).
    private static func rate(for codec: UnsafePointer<AVCodec>, sourceRate: Int) -> Int {
        guard let list = codec.pointee.supported_samplerates else { return sourceRate }
        var rates: [Int] = []
        var i = 0
        while list[i] != 0 { rates.append(Int(list[i])); i += 1 }
        return rates.sorted().first { $0 >= sourceRate } ?? rates.max() ?? sourceRate
    }

    private static func sampleFormat(for codec: UnsafePointer<AVCodec>) -> AVSampleFormat? {
        let preference = [AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_S16P, AV_SAMPLE_FMT_S32, AV_SAMPLE_FMT_S32P]
        guard let list = codec.pointee.sample_fmts else { return AV_SAMPLE_FMT_FLT }
        var offered: [AVSampleFormat] = []
        var i = 0
        while list[i] != AV_SAMPLE_FMT_NONE { offered.append(list[i]); i += 1 }
        return preference.first(where: offered.contains)
    }

    private static func check(_ status: Int32, _ what: String) throws {
        guard status < 0 else { return }
        var message = [CChar](repeating: 0, count: 256)
        av_strerror(status, &message, message.count)
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw VoxError(.io, "FFmpeg failed \(what): \(text).")
    }

    /// FFmpeg logs warnings to stderr (a FLAC header it cannot rewrite on a stream); errors come
    /// back as return codes instead.
    private static let quietLogging: Void = av_log_set_level(AV_LOG_ERROR)
}
