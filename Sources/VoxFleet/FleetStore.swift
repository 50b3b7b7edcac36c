import Foundation
import Logging
import PostgresNIO
import VoxCore
import VoxOptimizer
import VoxRuntime

/// A fleet's one source of truth in PostgreSQL: the voice library (names, metadata and the
/// recordings themselves) and the conditioning cache's shared tier.
///
/// Tables (created and migrated by `migrate()`, versioned in `voxserve_schema`):
/// - `voxserve_recordings(sha256, data, byte_count)`: each distinct recording once. Never evicted;
///   removed with the last voice that uses it.
/// - `voxserve_voices(name, sha256, format, byte_count, added_at, original_file_name)`.
/// - `voxserve_generation`: one counter, raised by every voice change, so that a replica notices
///   a change by reading one row.
/// - `voxserve_conditioning(digest, engine, data, byte_count, created_at, used_at)`: keyed by the
///   content-addressed `ConditioningKey` digest (recording SHA-256, engine, model fingerprint,
///   parameters), so replicas with different model files never share an entry. Evicted least
///   recently used first beyond `limits`.
///
/// Every operation has a time limit (`operationTimeout`): a database that stops answering makes
/// calls fail fast, and `health` says the replica is degraded until one succeeds again.
public final class FleetStore: Sendable {
    public struct Limits: Sendable, Equatable {
        public var conditioningBytes: Int
        public var conditioningEntries: Int

        public init(conditioningBytes: Int = 2 * 1024 * 1024 * 1024, conditioningEntries: Int = 10_000) {
            self.conditioningBytes = conditioningBytes
            self.conditioningEntries = conditioningEntries
        }
    }

    public let location: StoreLocation
    public let limits: Limits
    let client: PostgresClient
    let logger: Logger
    let health: CacheHealth
    static let healthArea = "shared store"
    static let operationTimeout: Duration = .seconds(5)
    private let migrated = Locked(false)

    public init(location: StoreLocation, limits: Limits = Limits(), health: CacheHealth, logger: Logger) {
        self.location = location
        self.limits = limits
        self.health = health
        self.logger = logger
        client = PostgresClient(configuration: location.clientConfiguration, backgroundLogger: logger)
    }

    /// The conditioning cache's shared tier.
    public var conditioningStore: PostgresConditioningStore { PostgresConditioningStore(store: self) }

    public var isMigrated: Bool { migrated.get() }

    // MARK: Schema

    /// Each migration once, in order. A new one goes at the end; a released one never changes.
    static let migrations: [String] = [
        """
        CREATE TABLE voxserve_recordings (
            sha256 text PRIMARY KEY,
            data bytea NOT NULL,
            byte_count integer NOT NULL
        );
        CREATE TABLE voxserve_voices (
            name text PRIMARY KEY,
            sha256 text NOT NULL REFERENCES voxserve_recordings (sha256),
            format text NOT NULL,
            byte_count integer NOT NULL,
            added_at timestamptz NOT NULL DEFAULT now(),
            original_file_name text
        );
        CREATE TABLE voxserve_generation (id integer PRIMARY KEY CHECK (id = 1), value bigint NOT NULL);
        INSERT INTO voxserve_generation VALUES (1, 0);
        CREATE TABLE voxserve_conditioning (
            digest text PRIMARY KEY,
            engine text NOT NULL,
            data bytea NOT NULL,
            byte_count integer NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            used_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX voxserve_conditioning_used_at ON voxserve_conditioning (used_at);
        """
    ]

    /// Creates or updates the schema to the newest version. Replicas starting together take turns
    /// (a transaction-scoped advisory lock), so each migration runs once.
    public func migrate() async throws {
        let logger = self.logger
        try await timed {
            try await self.client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(7242015)", logger: logger)
                try await connection.query("CREATE TABLE IF NOT EXISTS voxserve_schema (version integer NOT NULL)", logger: logger)
                var version = 0
                for try await (value,) in try await connection.query("SELECT max(version) FROM voxserve_schema", logger: logger).decode((Int?).self) {
                    version = value ?? 0
                }
                for (index, sql) in Self.migrations.enumerated() where index + 1 > version {
                    for statement in sql.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) where !statement.isEmpty {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO voxserve_schema (version) VALUES (\(index + 1))", logger: logger)
                    logger.info("store schema migrated", metadata: ["vox.store.version": "\(index + 1)"])
                }
            }
        }
        migrated.set(true)
    }

    // MARK: Voices

    /// A voice as the store holds it.
    public struct StoredVoice: Sendable, Equatable {
        public var name: String
        public var sha256: String
        public var format: String
        public var byteCount: Int
        public var originalFileName: String?
    }

    /// The voice generation counter: it changes whenever a voice is added or removed anywhere.
    public func voiceGeneration() async throws -> Int64 {
        try await timed {
            var generation: Int64 = 0
            for try await (value,) in try await self.client.query("SELECT value FROM voxserve_generation WHERE id = 1", logger: self.logger).decode(Int64.self) {
                generation = value
            }
            return generation
        }
    }

    public func voices() async throws -> [StoredVoice] {
        try await timed {
            var voices: [StoredVoice] = []
            let rows = try await self.client.query(
                "SELECT name, sha256, format, byte_count, original_file_name FROM voxserve_voices ORDER BY name", logger: self.logger)
            for try await (name, sha, format, count, original) in rows.decode((String, String, String, Int, String?).self) {
                voices.append(StoredVoice(name: name, sha256: sha, format: format, byteCount: count, originalFileName: original))
            }
            return voices
        }
    }

    /// One recording's bytes (one row: a table of recordings is never read whole).
    public func recording(sha256: String) async throws -> Data? {
        try await timed {
            var data: Data?
            for try await (bytes,) in try await self.client.query(
                "SELECT data FROM voxserve_recordings WHERE sha256 = \(sha256)", logger: self.logger
            ).decode(Data.self) {
                data = bytes
            }
            return data
        }
    }

    /// Stores a voice and its recording. Unless `replacing`, a name the store already has for other
    /// content is a conflict; the same content again changes nothing.
    public func addVoice(_ entry: LibraryVoice, data: Data, replacing: Bool) async throws {
        let logger = self.logger
        try await timed {
            try await self.client.withTransaction(logger: logger) { connection in
                if !replacing {
                    for try await (existing,) in try await connection.query(
                        "SELECT sha256 FROM voxserve_voices WHERE name = \(entry.name) FOR UPDATE", logger: logger
                    ).decode(String.self) where existing != entry.sha256 {
                        throw VoxError(.conflict, "A voice named '\(entry.name)' already exists in the fleet; delete it first, choose another name, or send replace=true.")
                    }
                }
                try await connection.query(
                    "INSERT INTO voxserve_recordings (sha256, data, byte_count) VALUES (\(entry.sha256), \(data), \(data.count)) ON CONFLICT (sha256) DO NOTHING",
                    logger: logger)
                let previous = try await Self.sha(of: entry.name, connection: connection, logger: logger)
                try await connection.query(
                    """
                    INSERT INTO voxserve_voices (name, sha256, format, byte_count, original_file_name)
                    VALUES (\(entry.name), \(entry.sha256), \(entry.format.rawValue), \(entry.byteCount), \(entry.originalFileName))
                    ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256, format = EXCLUDED.format,
                        byte_count = EXCLUDED.byte_count, original_file_name = EXCLUDED.original_file_name, added_at = now()
                    """, logger: logger)
                if let previous, previous != entry.sha256 { try await Self.dropUnused(previous, connection: connection, logger: logger) }
                try await connection.query("UPDATE voxserve_generation SET value = value + 1 WHERE id = 1", logger: logger)
            }
        }
    }

    /// Removes a voice, and its recording when no other voice uses it. Returns false when the store
    /// had no voice of that name.
    @discardableResult
    public func removeVoice(name: String) async throws -> Bool {
        let logger = self.logger
        return try await timed {
            try await self.client.withTransaction(logger: logger) { connection in
                guard let sha = try await Self.sha(of: name, connection: connection, logger: logger) else { return false }
                try await connection.query("DELETE FROM voxserve_voices WHERE name = \(name)", logger: logger)
                try await Self.dropUnused(sha, connection: connection, logger: logger)
                try await connection.query("UPDATE voxserve_generation SET value = value + 1 WHERE id = 1", logger: logger)
                return true
            }
        }
    }

    private static func sha(of name: String, connection: PostgresConnection, logger: Logger) async throws -> String? {
        var sha: String?
        for try await (value,) in try await connection.query("SELECT sha256 FROM voxserve_voices WHERE name = \(name)", logger: logger).decode(String.self) {
            sha = value
        }
        return sha
    }

    private static func dropUnused(_ sha: String, connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "DELETE FROM voxserve_recordings WHERE sha256 = \(sha) AND NOT EXISTS (SELECT 1 FROM voxserve_voices WHERE sha256 = \(sha))",
            logger: logger)
    }

    // MARK: Time limits and health

    /// Runs `operation` within `operationTimeout`; a failure marks the store unreachable in `health`
    /// (a `VoxError` of the caller's own making, such as a conflict, does not).
    func timed<T: Sendable>(_ operation: @Sendable @escaping () async throws -> T) async throws -> T {
        do {
            guard let value = try await untilDeadline(.now + Self.operationTimeout, operation) else {
                throw VoxError(.unavailable, "The shared store (PostgreSQL at \(location.description)) did not answer within \(Self.operationTimeout).")
            }
            health.clear(Self.healthArea)
            return value
        } catch let error as VoxError where error.kind != .unavailable {
            health.clear(Self.healthArea)
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            let reason = (error as? VoxError)?.message ?? Self.describe(error)
            health.report(
                Self.healthArea,
                "PostgreSQL at \(location.description) is unreachable (\(reason)); serving the built-in voices and what this replica holds, reconnecting")
            throw VoxError(.unavailable, "The shared voice store is unreachable; try again shortly.", detail: "\(error)")
        }
    }

    /// A database error in one line (PostgresNIO's descriptions are long and may hold the query).
    static func describe(_ error: any Error) -> String {
        if let psql = error as? PSQLError {
            if let message = psql.serverInfo?[.message] { return message }
            return "\(psql.code)"
        }
        return "\(error)".prefix(200).description
    }
}
