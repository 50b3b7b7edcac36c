import CAudioIO

/// An in-memory file that libsndfile reads and writes through its virtual I/O callbacks, so
/// encoded bytes never touch the disk.
///
/// Not thread-safe: one `SoundFile` uses it at a time, from the thread that drives that file.
final class VirtualFile {
    private(set) var bytes: [UInt8]
    private var position = 0

    /// A file holding `bytes`, read from the start.
    init(bytes: [UInt8] = []) {
        self.bytes = bytes
    }

    /// The callbacks libsndfile calls with `user_data` pointing at a `VirtualFile`.
    /// libsndfile copies this table when a file is opened.
    static let callbacks = SF_VIRTUAL_IO(
        get_filelen: { userData in
            sf_count_t(VirtualFile.from(userData).bytes.count)
        },
        seek: { offset, whence, userData in
            VirtualFile.from(userData).seek(Int(offset), whence: whence)
        },
        read: { destination, count, userData in
            VirtualFile.from(userData).read(into: destination, count: Int(count))
        },
        write: { source, count, userData in
            VirtualFile.from(userData).write(from: source, count: Int(count))
        },
        tell: { userData in
            sf_count_t(VirtualFile.from(userData).position)
        }
    )

    private static func from(_ userData: UnsafeMutableRawPointer?) -> VirtualFile {
        Unmanaged<VirtualFile>.fromOpaque(userData!).takeUnretainedValue()
    }

    private func seek(_ offset: Int, whence: Int32) -> sf_count_t {
        let base: Int
        switch whence {
        case SEEK_SET: base = 0
        case SEEK_CUR: base = position
        case SEEK_END: base = bytes.count
        default: return -1
        }
        let target = base + offset
        guard target >= 0 else { return -1 }
        position = target
        return sf_count_t(target)
    }

    private func read(into destination: UnsafeMutableRawPointer?, count: Int) -> sf_count_t {
        guard let destination, count > 0, position < bytes.count else { return 0 }
        let n = min(count, bytes.count - position)
        bytes.withUnsafeBytes { source in
            destination.copyMemory(from: source.baseAddress! + position, byteCount: n)
        }
        position += n
        return sf_count_t(n)
    }

    private func write(from source: UnsafeRawPointer?, count: Int) -> sf_count_t {
        guard let source, count > 0 else { return 0 }
        let end = position + count
        if end > bytes.count {
            bytes.append(contentsOf: repeatElement(0, count: end - bytes.count))
        }
        bytes.withUnsafeMutableBytes { destination in
            (destination.baseAddress! + position).copyMemory(from: source, byteCount: count)
        }
        position = end
        return sf_count_t(count)
    }
}
