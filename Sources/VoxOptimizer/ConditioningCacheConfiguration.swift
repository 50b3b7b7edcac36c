import Foundation
import VoxCore

/// How a ``ConditioningCache`` is set up. Every field has a default.
public struct ConditioningCacheConfiguration: Sendable, Equatable {
    /// 256 MiB.
    public static let defaultMemoryBudgetBytes = 256 * 1024 * 1024

    /// Folder of the disk tier (one file per entry); nil keeps entries in memory only.
    public var directory: URL?
    /// Most bytes of tensor data the memory tier holds; a larger entry is not kept in memory.
    public var memoryBudgetBytes: Int

    public init(directory: URL? = nil, memoryBudgetBytes: Int = ConditioningCacheConfiguration.defaultMemoryBudgetBytes) {
        self.directory = directory
        self.memoryBudgetBytes = memoryBudgetBytes
    }

    /// The disk tier in `paths.cacheDirectory` (`$VOXSERVE_CACHE_DIR`, default `$VOXSERVE_HOME/cache`).
    public init(paths: VoxPaths, memoryBudgetBytes: Int = ConditioningCacheConfiguration.defaultMemoryBudgetBytes) {
        self.init(directory: paths.cacheDirectory, memoryBudgetBytes: memoryBudgetBytes)
    }
}
