import CAudioIO
import Foundation
import VoxCore

/// Owns one libsndfile handle opened on a `VirtualFile`, and closes it in `deinit`.
///
/// Not thread-safe: use one `SoundFile` from one thread at a time. Distinct files are independent.
final class SoundFile {
    private var handle: OpaquePointer?
    /// Kept alive for as long as libsndfile may call back into it.
    private let storage: VirtualFile
    let info: SF_INFO

    /// libsndfile reports a failed open through process-wide state (`sf_error(NULL)`);
    /// opening under this lock keeps one thread's failure from being read as another's.
    private static let openLock = NSLock()

    /// Opens `storage` for reading; libsndfile detects the format from the bytes.
    convenience init(reading storage: VirtualFile) throws {
        try self.init(storage: storage, mode: Int32(SFM_READ), info: SF_INFO())
    }

    /// Creates a file of `format` (an `SF_FORMAT_*` combination) in `storage`.
    convenience init(writing storage: VirtualFile, format: Int32, sampleRate: Int, channels: Int = 1) throws {
        var info = SF_INFO()
        info.format = format
        info.samplerate = Int32(sampleRate)
        info.channels = Int32(channels)
        try self.init(storage: storage, mode: Int32(SFM_WRITE), info: info)
    }

    private init(storage: VirtualFile, mode: Int32, info: SF_INFO) throws {
        self.storage = storage
        var info = info
        var callbacks = VirtualFile.callbacks
        let userData = Unmanaged.passUnretained(storage).toOpaque()
        var code: Int32 = 0
        var message = ""
        Self.openLock.lock()
        let opened = sf_open_virtual(&callbacks, mode, &info, userData)
        if opened == nil {
            code = sf_error(nil)
            message = String(cString: sf_strerror(nil))
        }
        Self.openLock.unlock()
        try SoundFileError.check(code, message: message)
        handle = opened
        self.info = info
    }

    deinit {
        if let handle { sf_close(handle) }
    }

    /// Frames as libsndfile counts them; nil when it could not tell (`SF_COUNT_MAX`).
    var frames: Int? { info.frames == sf_count_t.max ? nil : Int(info.frames) }
    var channels: Int { Int(info.channels) }
    var sampleRate: Int { Int(info.samplerate) }
    var majorFormat: Int32 { info.format & Int32(SF_FORMAT_TYPEMASK) }
    var subtype: Int32 { info.format & Int32(SF_FORMAT_SUBMASK) }

    /// Reads up to `frames` interleaved frames into `buffer`, which holds at least `frames * channels` floats.
    /// Returns the number of frames read: 0 at the end of the data.
    func readFrames(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        let n = sf_readf_float(handle, buffer, sf_count_t(frames))
        if n <= 0 { try checkHandle() }
        return Int(max(0, n))
    }

    func write(_ samples: [Int16]) throws {
        let n = samples.withUnsafeBufferPointer { sf_writef_short(handle, $0.baseAddress, sf_count_t($0.count)) }
        if n != samples.count { try checkHandle(orElse: "wrote \(n) of \(samples.count) frames") }
    }

    func write(_ samples: [Float]) throws {
        let n = samples.withUnsafeBufferPointer { sf_writef_float(handle, $0.baseAddress, sf_count_t($0.count)) }
        if n != samples.count { try checkHandle(orElse: "wrote \(n) of \(samples.count) frames") }
    }

    /// `SFC_SET_COMPRESSION_LEVEL`: 0 is the best quality, 1 the smallest file.
    func setCompressionLevel(_ level: Double) throws {
        var value = level
        if sf_command(handle, Int32(SFC_SET_COMPRESSION_LEVEL), &value, Int32(MemoryLayout<Double>.size)) != Int32(SF_TRUE) {
            try checkHandle(orElse: "the codec does not take a compression level")
        }
    }

    /// Flushes and closes the file (writing the final headers and pages). Safe to call twice.
    func close() throws {
        guard let handle else { return }
        self.handle = nil
        let code = sf_close(handle)
        try SoundFileError.check(code, message: code == 0 ? "" : String(cString: sf_error_number(code)))
    }

    /// Turns the handle's pending error, if any, into a `SoundFileError`; `orElse` describes a failure
    /// that libsndfile did not record.
    private func checkHandle(orElse fallback: String? = nil) throws {
        let code = sf_error(handle)
        if code != 0 {
            try SoundFileError.check(code, message: String(cString: sf_strerror(handle)))
        } else if let fallback {
            try SoundFileError.check(Int32(SF_ERR_SYSTEM), message: fallback)
        }
    }
}
