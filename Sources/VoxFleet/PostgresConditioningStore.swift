import Foundation
import Logging
import PostgresNIO
import VoxCore
import VoxOptimizer

/// The conditioning cache's shared tier in PostgreSQL (`voxserve_conditioning`), behind each
/// replica's memory tier. Entries use the disk tier's format (`ConditioningFileFormat`), so an
/// entry is checked against its key on every read.
///
/// `exclusively` holds a session advisory lock named by the key while one replica computes, so a
/// fleet computes each conditioning once: the others wait, then find the entry. A lock that
/// cannot be had (the database is away, or the holder takes longer than two minutes) does not
/// stop speech: the replica computes on its own.
///
/// When the database is unreachable, `load` finds nothing and `save` is skipped (both fast, within
/// `FleetStore.operationTimeout`): speech goes on from memory and computation.
public struct PostgresConditioningStore: ConditioningStore {
    let store: FleetStore

    public func load(_ key: ConditioningKey) async throws -> Conditioning? {
        let digest = key.digest
        let client = store.client, logger = store.logger
        let bytes: Data?
        do {
            bytes = try await store.timed {
                var found: Data?
                for try await (data,) in try await client.query(
                    "UPDATE voxserve_conditioning SET used_at = now() WHERE digest = \(digest) RETURNING data", logger: logger
                ).decode(Data.self) {
                    found = data
                }
                return found
            }
        } catch {
            return nil  // unreachable: `health` says so; the cache computes
        }
        guard let bytes else { return nil }
        do {
            return try ConditioningFileFormat.decode(bytes, for: key)
        } catch let error as VoxError {
            try? await remove(key)
            throw VoxError(.io, "Discarded shared conditioning entry \(digest): \(error.message).")
        }
    }

    public func save(_ conditioning: Conditioning, for key: ConditioningKey) async throws {
        let bytes = try ConditioningFileFormat.encode(conditioning, for: key)
        let (digest, engine, limits) = (key.digest, key.engine, store.limits)
        let client = store.client, logger = store.logger
        try await store.timed {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query(
                    """
                    INSERT INTO voxserve_conditioning (digest, engine, data, byte_count) VALUES (\(digest), \(engine), \(bytes), \(bytes.count))
                    ON CONFLICT (digest) DO UPDATE SET data = EXCLUDED.data, byte_count = EXCLUDED.byte_count, used_at = now()
                    """, logger: logger)
                // Least recently used out, beyond the entry and byte limits (recordings are never touched).
                try await connection.query(
                    """
                    DELETE FROM voxserve_conditioning WHERE digest IN (
                        SELECT digest FROM (
                            SELECT digest, row_number() OVER w AS n, sum(byte_count) OVER w AS running
                            FROM voxserve_conditioning WINDOW w AS (ORDER BY used_at DESC, digest)
                        ) ranked WHERE n > \(limits.conditioningEntries) OR running > \(Int64(limits.conditioningBytes)))
                    """, logger: logger)
            }
        }
    }

    public func remove(_ key: ConditioningKey) async throws {
        let digest = key.digest
        let client = store.client, logger = store.logger
        try await store.timed {
            try await client.query("DELETE FROM voxserve_conditioning WHERE digest = \(digest)", logger: logger)
        }
    }

    public func usage() async throws -> ConditioningStoreUsage {
        let client = store.client, logger = store.logger
        return try await store.timed {
            var usage = ConditioningStoreUsage(entries: 0, bytes: 0)
            for try await (entries, bytes) in try await client.query(
                "SELECT count(*), coalesce(sum(byte_count), 0)::bigint FROM voxserve_conditioning", logger: logger
            ).decode((Int64, Int64).self) {
                usage = ConditioningStoreUsage(entries: Int(entries), bytes: Int(bytes))
            }
            return usage
        }
    }

    /// `body` under the advisory lock named by the key's first 64 bits, on one leased connection
    /// (a session lock belongs to its connection), released whether `body` returns or throws.
    public func exclusively<T: Sendable>(_ key: ConditioningKey, _ body: @Sendable () async throws -> T) async throws -> T {
        let lockID = Self.lockID(for: key)
        let logger = store.logger
        // A lease waits while the pool reconnects: ask first, within the time limit, whether the
        // database answers at all.
        let client = store.client
        guard (try? await store.timed({ try await client.query("SELECT 1", logger: logger) })) != nil else {
            return try await body()
        }
        do {
            return try await store.client.withConnection { connection in
                try await connection.query("SET lock_timeout = '120s'", logger: logger)
                try await connection.query("SELECT pg_advisory_lock(\(lockID))", logger: logger)
                let result: Result<T, any Error>
                do {
                    result = .success(try await body())
                } catch {
                    result = .failure(error)
                }
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockID))", logger: logger)
                return try result.get()
            }
        } catch where error is PSQLError || error is PostgresError {
            logger.warning(
                "no fleet lock for a conditioning computation; computing here",
                metadata: ["vox.cache.key": "\(key.digest)", "vox.error": "\(FleetStore.describe(error))"])
            return try await body()
        }
    }

    /// A signed 64-bit lock id from the digest's first 16 hex digits.
    static func lockID(for key: ConditioningKey) -> Int64 { lockID(forDigest: key.digest) }

    static func lockID(forDigest digest: String) -> Int64 {
        Int64(bitPattern: UInt64(digest.prefix(16), radix: 16) ?? 0)
    }
}
