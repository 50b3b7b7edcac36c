import Foundation
import Logging
import VoxCore

/// Keeps conditionings as one file per entry, `<digest>.conditioning`, in one folder (by default
/// `VoxPaths.cacheDirectory`). The layout is ``ConditioningFileFormat``'s. Entries are written to
/// a temporary file in the same folder and renamed into place, so several processes may share
/// the folder. All file work runs off the cooperative pool.
public struct DiskConditioningStore: ConditioningStore {
    /// File name extension of an entry.
    public static let fileExtension = "conditioning"
    /// Temporary files older than this are left-overs of a process that died mid-write; ``usage()`` deletes them.
    static let staleTemporaryFileAge: TimeInterval = 3600

    public let directory: URL
    private let logger: Logger

    public init(directory: URL, logger: Logger = Logger(label: "voxserve.cache")) {
        self.directory = directory.standardizedFileURL
        self.logger = logger
    }

    /// The file that holds (or would hold) the entry for `key`. Its name is the key's digest,
    /// never anything taken from a reference's file name or path.
    public func entryURL(for key: ConditioningKey) -> URL {
        directory.appendingPathComponent("\(key.digest).\(Self.fileExtension)")
    }

    public func load(_ key: ConditioningKey) async throws -> Conditioning? {
        let url = entryURL(for: key)
        return try await ConditioningFileIO.perform {
            let bytes: Data
            do {
                guard FileManager.default.fileExists(atPath: url.path) else { return nil }
                bytes = try Data(contentsOf: url)
            } catch {
                // Gone between the check and the read (another process discarded it) counts as absent.
                if !FileManager.default.fileExists(atPath: url.path) { return nil }
                throw VoxError.io("Cannot read conditioning cache entry \(url.path): \(error.localizedDescription)", path: url.path)
            }
            do {
                return try ConditioningFileFormat.decode(bytes, for: key)
            } catch let error as VoxError {
                try? FileManager.default.removeItem(at: url)
                throw VoxError(.io, "Discarded conditioning cache entry \(url.lastPathComponent): \(error.message).", detail: url.path)
            }
        }
    }

    public func save(_ conditioning: Conditioning, for key: ConditioningKey) async throws {
        let url = entryURL(for: key)
        try await ConditioningFileIO.perform {
            let bytes = try ConditioningFileFormat.encode(conditioning, for: key)
            try ConditioningFileIO.writeAtomically(bytes, to: url)
        }
    }

    public func remove(_ key: ConditioningKey) async throws {
        let url = entryURL(for: key)
        try await ConditioningFileIO.perform {
            do {
                try FileManager.default.removeItem(at: url)
            } catch where !FileManager.default.fileExists(atPath: url.path) {
                // already gone
            } catch {
                throw VoxError.io("Cannot remove conditioning cache entry \(url.path): \(error.localizedDescription)", path: url.path)
            }
        }
    }

    public func usage() async throws -> ConditioningStoreUsage {
        let directory = self.directory
        let logger = self.logger
        return try await ConditioningFileIO.perform {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            } catch where !FileManager.default.fileExists(atPath: directory.path) {
                return ConditioningStoreUsage(entries: 0, bytes: 0)
            } catch {
                throw VoxError.io("Cannot list the conditioning cache \(directory.path): \(error.localizedDescription)", path: directory.path)
            }
            var usage = ConditioningStoreUsage(entries: 0, bytes: 0)
            let now = Date()
            for name in names {
                let path = directory.appendingPathComponent(name).path
                guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { continue }
                if ConditioningFileIO.isTemporaryFileName(name) {
                    if let modified = attributes[.modificationDate] as? Date,
                        now.timeIntervalSince(modified) > Self.staleTemporaryFileAge
                    {
                        try? FileManager.default.removeItem(atPath: path)
                        logger.debug("Removed a stale temporary cache file", metadata: ["vox.cache.path": "\(path)"])
                    }
                    continue
                }
                guard Self.isEntryFileName(name) else { continue }
                usage.entries += 1
                usage.bytes += (attributes[.size] as? NSNumber)?.intValue ?? 0
            }
            return usage
        }
    }

    static func isEntryFileName(_ name: String) -> Bool {
        let suffix = ".\(fileExtension)"
        return name.hasSuffix(suffix) && ConditioningKey.isDigest(String(name.dropLast(suffix.count)))
    }
}
