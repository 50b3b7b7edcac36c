/// The memory tier of the ``ConditioningCache``: least-recently-used entries under a byte budget.
/// A dictionary plus a doubly linked list threaded through it by key, so a lookup, an insertion
/// and an eviction each cost O(1). A plain value type: the cache actor owns the only copy.
struct ConditioningMemoryTier {
    private struct Node {
        var value: Conditioning
        var bytes: Int
        /// Toward the least recently used end.
        var older: String?
        /// Toward the most recently used end.
        var newer: String?
    }

    let budgetBytes: Int
    private(set) var totalBytes = 0
    private var nodes: [String: Node] = [:]
    private var newest: String?
    private var oldest: String?

    init(budgetBytes: Int) {
        self.budgetBytes = max(0, budgetBytes)
    }

    var count: Int { nodes.count }

    /// Keys from most to least recently used.
    var keysByRecency: [String] {
        var keys: [String] = []
        var cursor = newest
        while let key = cursor {
            keys.append(key)
            cursor = nodes[key]?.older
        }
        return keys
    }

    /// The value for `key`, which becomes the most recently used.
    mutating func value(for key: String) -> Conditioning? {
        guard let node = nodes[key] else { return nil }
        unlink(key)
        linkAsNewest(key)
        return node.value
    }

    /// Stores `value` as the most recently used and evicts the least recently used entries until
    /// the budget holds. A value larger than the whole budget is not stored. Returns the number of
    /// entries evicted.
    @discardableResult
    mutating func insert(_ value: Conditioning, for key: String) -> Int {
        removeValue(for: key)
        let bytes = value.byteCount
        guard bytes <= budgetBytes else { return 0 }
        var evicted = 0
        while totalBytes + bytes > budgetBytes, let victim = oldest {
            removeValue(for: victim)
            evicted += 1
        }
        nodes[key] = Node(value: value, bytes: bytes, older: nil, newer: nil)
        linkAsNewest(key)
        totalBytes += bytes
        return evicted
    }

    mutating func removeValue(for key: String) {
        guard let node = nodes[key] else { return }
        unlink(key)
        nodes[key] = nil
        totalBytes -= node.bytes
    }

    mutating func removeAll() {
        nodes = [:]
        newest = nil
        oldest = nil
        totalBytes = 0
    }

    private mutating func unlink(_ key: String) {
        guard let node = nodes[key] else { return }
        if let older = node.older { nodes[older]?.newer = node.newer } else { oldest = node.newer }
        if let newer = node.newer { nodes[newer]?.older = node.older } else { newest = node.older }
        nodes[key]?.older = nil
        nodes[key]?.newer = nil
    }

    private mutating func linkAsNewest(_ key: String) {
        nodes[key]?.older = newest
        nodes[key]?.newer = nil
        if let previous = newest { nodes[previous]?.newer = key }
        newest = key
        if oldest == nil { oldest = key }
    }
}
