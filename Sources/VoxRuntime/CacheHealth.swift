import Foundation
import VoxCore

/// What is wrong with the caches, if anything. A cache only makes VoxServe faster: when its folder
/// cannot be written, voices are spoken without it, and this says why, for `/healthz` ("degraded")
/// and `doctor`. It never names absolute paths (health is answered to anyone).
///
/// Thread safety: all state is in `state`, behind its lock.
public final class CacheHealth: Sendable {
    private struct State {
        var problems: [String: String] = [:]
        var failures = 0
    }

    private let state = Locked(State())

    public init() {}

    /// Records that `area` ("optimized models") could not be written, and why.
    public func report(_ area: String, _ problem: String) {
        state.withLock {
            $0.problems[area] = problem
            $0.failures += 1
        }
    }

    /// `area` works again.
    public func clear(_ area: String) {
        _ = state.withLock { $0.problems.removeValue(forKey: area) }
    }

    /// One sentence per area with a problem, sorted; empty when all is well.
    public var problems: [String] {
        state.withLock { $0.problems.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" } }
    }

    /// Writes that failed since start.
    public var failures: Int { state.withLock { $0.failures } }

    /// Whether `directory` can hold files: creates it and writes and removes a probe file. Returns
    /// nil when it can, else why not (the reason from the file system, without the path).
    public static func writeProblem(in directory: URL) -> String? {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            let probe = AtomicFile.temporaryURL(for: directory.appendingPathComponent("probe"))
            defer { try? fm.removeItem(at: probe) }  // also when the write failed half-way
            try Data("ok".utf8).write(to: probe)
            return nil
        } catch {
            return reason(error)
        }
    }

    /// The file system's reason for `error` ("Not a directory", "No space left on device").
    public static func reason(_ error: any Error) -> String {
        fileSystemErrorCode(error).map { String(cString: strerror($0)) } ?? "it cannot be written"
    }
}
