import Foundation
import ServiceLifecycle

/// Keeps a long-running server's memory from creeping up: glibc keeps freed memory in per-thread
/// arenas rather than returning it, and synthesis frees tens of megabytes per request on many
/// threads (ONNX Runtime's, the cooperative pool's). Over a 10-minute soak that retention alone
/// grew the resident set by about 10%. `limitArenas()` caps the arenas at start; the service
/// hands freed memory back to the system every `interval`.
struct MemoryTrimmer: Service {
    var interval: Duration = .seconds(30)

    // glibc's <malloc.h> is not part of Swift's Glibc module: its two functions are looked up.
    private typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    private typealias MallocTrim = @convention(c) (Int) -> Int32
    private static let mallopt: Mallopt? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt").map { unsafeBitCast($0, to: Mallopt.self) }
    private static let mallocTrim: MallocTrim? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim").map { unsafeBitCast($0, to: MallocTrim.self) }
    /// `M_ARENA_MAX` in <malloc.h>.
    private static let arenaMax: Int32 = -8

    /// Whether this C library has the two functions (glibc does; musl does not, and needs neither).
    static var isAvailable: Bool { mallopt != nil && mallocTrim != nil }

    /// At most two malloc arenas (glibc's default is eight per core). Call before threads start.
    static func limitArenas() {
        _ = mallopt?(arenaMax, 2)
    }

    /// Returns freed memory to the system; true when some was.
    @discardableResult
    static func trim() -> Bool { (mallocTrim?(0) ?? 0) == 1 }

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: interval)
                    Self.trim()
                }
            }
        } catch is CancellationError {
            // Shutting down.
        }
    }
}
