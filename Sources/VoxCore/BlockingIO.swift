import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs blocking work (inference, file I/O) on a Dispatch queue, off Swift's cooperative pool,
/// so a long model run never holds up the async threads that serve other requests.
public func offload<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// Whole-file writes that readers, in this process or another, see complete or not at all.
public enum AtomicFile {
    /// Writes `data` to a temporary file in `url`'s folder (creating the folder), flushes it to
    /// disk and renames it over `url`. Blocking: call it inside ``offload(_:)``.
    public static func write(_ data: Data, to url: URL) throws {
        let folder = url.deletingLastPathComponent()
        let temporary = temporaryURL(for: url)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
                throw VoxError.io("Cannot create \(temporary.path): check that the folder is writable.", path: temporary.path)
            }
            let handle = try FileHandle(forWritingTo: temporary)
            do {
                try handle.write(contentsOf: data)
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
            try replace(url, with: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if let voxError = error as? VoxError { throw voxError }
            if let code = fileSystemErrorCode(error), code == ENOSPC || code == EDQUOT {
                throw VoxError(.storageFull, "The disk is full: \(url.lastPathComponent) could not be written. Free some space and try again.", detail: url.path)
            }
            throw VoxError.io("Cannot write \(url.path): \(error.localizedDescription)", path: url.path)
        }
    }

    /// A hidden file beside `url` for a writer (ours, or a library's such as ONNX Runtime's
    /// optimized-model writer) to fill before ``replace(_:with:)`` moves it into place.
    public static func temporaryURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
    }

    /// Renames `temporary` over `url` in one step (`rename(2)`); on failure `temporary` is removed.
    public static func replace(_ url: URL, with temporary: URL) throws {
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw VoxError.io("Cannot rename \(temporary.lastPathComponent) to \(url.path): \(reason).", path: url.path)
        }
    }

    /// True when `name` is one of the temporary files a writer leaves behind if the process dies
    /// between creating and renaming it.
    public static func isTemporaryFileName(_ name: String) -> Bool {
        name.hasPrefix(".") && name.hasSuffix(".tmp")
    }
}

/// The POSIX error number behind a file-system error from Foundation (`ENOSPC`, `EROFS`, …), if
/// it carries one. Foundation wraps it as the `NSUnderlyingErrorKey` of a Cocoa error, or maps
/// it to a Cocoa code.
public func fileSystemErrorCode(_ error: any Error) -> Int32? {
    let ns = error as NSError
    let underlying = ns.userInfo[NSUnderlyingErrorKey]
    if let posix = (underlying as? POSIXError) ?? (error as? POSIXError) { return posix.code.rawValue }
    if let underlying = underlying as? NSError, underlying.domain == NSPOSIXErrorDomain { return Int32(underlying.code) }
    if ns.domain == NSPOSIXErrorDomain { return Int32(ns.code) }
    switch CocoaError.Code(rawValue: ns.code) {
    case .fileWriteOutOfSpace: return ENOSPC
    case .fileWriteVolumeReadOnly: return EROFS
    case .fileWriteNoPermission: return EACCES
    default: return nil
    }
}
