/// A persistent tier of the ``ConditioningCache``: somewhere conditionings outlive the process.
public protocol ConditioningStore: Sendable {
    /// The stored conditioning for `key`, or nil when there is none. When an entry exists but is
    /// unusable (corrupt, truncated, foreign, another format version) the store removes it and
    /// throws a `VoxError` that says why; the cache logs that and recomputes.
    func load(_ key: ConditioningKey) async throws -> Conditioning?

    /// Stores `conditioning` for `key`, replacing any entry. Readers never see a partial entry.
    func save(_ conditioning: Conditioning, for key: ConditioningKey) async throws

    /// Removes the entry for `key` if there is one.
    func remove(_ key: ConditioningKey) async throws

    /// Entries and bytes held now.
    func usage() async throws -> ConditioningStoreUsage
}
