/// How much a ``ConditioningStore`` holds.
public struct ConditioningStoreUsage: Sendable, Equatable, Codable {
    public var entries: Int
    public var bytes: Int

    public init(entries: Int, bytes: Int) {
        self.entries = entries
        self.bytes = bytes
    }
}
