import Foundation
import Logging
import ServiceLifecycle
import VoxCore
import VoxRuntime

/// The fleet's voice library, mirrored into this replica's ``VoiceRegistry``.
///
/// - An upload is checked and stored here first (the registry's rules: names, a Piper voice's
///   name, a taken name), then in PostgreSQL; when the store refuses or cannot be reached, the
///   local copy is taken back and the request fails (409 for a name the fleet has, 503 while the
///   store is away), so no replica holds a voice the fleet does not.
/// - A removal goes to PostgreSQL first, then here.
/// - `sync()` (every half second, from ``FleetService``) reads the store's voice generation, and
///   when it moved, brings the mirror in step: fetches recordings it lacks (one row at a time),
///   drops voices the fleet removed. On this replica's first sync, its own voices the fleet lacks
///   are published instead of dropped: a single server joining a fleet loses nothing.
///
/// Changes and syncs run one at a time (`gate`), so a sync never sees an upload half made.
public actor FleetVoices: SharedVoiceLibrary {
    let store: FleetStore
    let registry: VoiceRegistry
    let logger: Logger
    /// The store's voice generation this mirror matches; nil: read everything at the next sync.
    private var generation: Int64?
    /// Set after the first complete sync: from then on, a voice the fleet lacks was removed.
    private var joined = false
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(store: FleetStore, registry: VoiceRegistry, logger: Logger) {
        self.store = store
        self.registry = registry
        self.logger = logger
    }

    public func add(name: String, data: Data, originalFileName: String?, replacing: Bool) async throws -> LibraryVoice {
        await acquire()
        defer { release() }
        let existed = try await registry.clonedVoices()[name]
        let entry = try await registry.add(name: name, data: data, originalFileName: originalFileName, replacing: replacing)
        do {
            try await store.addVoice(entry, data: data, replacing: replacing)
        } catch {
            // Take the local copy back; the next sync restores whatever the fleet holds.
            if existed == nil { _ = try? await registry.remove(name: name) }
            generation = nil
            throw error
        }
        logger.info("voice published to the fleet", metadata: ["vox.voice": "\(name)"])
        return entry
    }

    public func remove(name: String) async throws {
        await acquire()
        defer { release() }
        let removed = try await store.removeVoice(name: name)
        do {
            try await registry.remove(name: name)
        } catch let error as VoxError where error.kind == .unknownVoice && removed {
            // The fleet had it; this replica had not mirrored it yet.
        }
    }

    /// Brings this replica's library in step with the fleet's, when the fleet's changed.
    public func sync() async throws {
        await acquire()
        defer { release() }
        let current = try await store.voiceGeneration()
        guard current != generation else { return }
        let first = generation == nil && !joined
        let fleet = Dictionary(uniqueKeysWithValues: try await store.voices().map { ($0.name, $0) })
        let local = try await registry.clonedVoices()
        for (name, voice) in fleet where local[name]?.sha256 != voice.sha256 {
            guard let data = try await store.recording(sha256: voice.sha256) else { continue }
            _ = try await registry.add(name: name, data: data, originalFileName: voice.originalFileName, replacing: true)
            logger.info("voice mirrored from the fleet", metadata: ["vox.voice": "\(name)"])
        }
        var published = false
        for (name, entry) in local where fleet[name] == nil {
            if first {
                let reference = try await registry.library.reference(named: name)
                try await store.addVoice(entry, data: reference.data, replacing: false)
                published = true
                logger.info("this replica's voice published to the fleet", metadata: ["vox.voice": "\(name)"])
            } else {
                _ = try? await registry.remove(name: name)
                logger.info("voice removed by the fleet", metadata: ["vox.voice": "\(name)"])
            }
        }
        joined = true
        // Publishing raised the generation: read it again next time.
        generation = published ? nil : current
    }

    /// Waits until no other change or sync is running (actor methods interleave at awaits).
    private func acquire() async {
        while busy {
            await withCheckedContinuation { waiting.append($0) }
        }
        busy = true
    }

    private func release() {
        busy = false
        if !waiting.isEmpty { waiting.removeFirst().resume() }
    }
}

/// The fleet's long-running part: PostgreSQL's connection pool, the schema migration (retried
/// until the database answers) and the voice sync every half second. A failure is reported in
/// `/healthz` (degraded) by the store, and the loop keeps trying: a replica reconnects by itself.
public struct FleetService: Service {
    let store: FleetStore
    let voices: FleetVoices
    static let interval: Duration = .milliseconds(500)

    public init(store: FleetStore, voices: FleetVoices) {
        self.store = store
        self.voices = voices
    }

    public func run() async throws {
        let store = self.store, voices = self.voices
        await withDiscardingTaskGroup { group in
            group.addTask { await store.client.run() }
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    do {
                        if !store.isMigrated { try await store.migrate() }
                        try await voices.sync()
                    } catch is CancellationError {
                        return
                    } catch {
                        store.logger.debug("fleet sync failed; retrying", metadata: ["vox.error": "\(error)"])
                    }
                    try? await Task.sleep(for: Self.interval)
                }
            }
            group.cancelAll()  // the pool too, once the loop has stopped
        }
    }
}
