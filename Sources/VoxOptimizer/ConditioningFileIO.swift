import Dispatch
import Foundation
import VoxCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Blocking file work for the conditioning cache and the voice library, run on Dispatch's global
/// queue so that it never blocks a thread of Swift's cooperative pool.
enum ConditioningFileIO {
    /// Runs `body` on a Dispatch worker thread and resumes with its result.
    static func perform<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    /// Writes `data` to a temporary file in `url`'s folder, flushes it to disk and renames it over
    /// `url`, so a reader (in this process or another) sees the old file or the new one, never a
    /// partial one. Blocking: call it inside ``perform(_:)``.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let folder = url.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
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
            guard rename(temporary.path, url.path) == 0 else {
                let reason = String(cString: strerror(errno))
                throw VoxError.io("Cannot rename \(temporary.lastPathComponent) to \(url.path): \(reason).", path: url.path)
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if let voxError = error as? VoxError { throw voxError }
            throw VoxError.io("Cannot write \(url.path): \(error.localizedDescription)", path: url.path)
        }
    }

    /// True when `name` is one of the temporary files ``writeAtomically(_:to:)`` leaves behind if
    /// the process dies between creating and renaming it.
    static func isTemporaryFileName(_ name: String) -> Bool {
        name.hasPrefix(".") && name.hasSuffix(".tmp")
    }
}
