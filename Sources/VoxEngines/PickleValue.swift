/// A value built by `PickleMachine`. Lists and dicts are shared boxes, as in Python, so that a
/// memoized container sees items added to it later.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer too wide for Int: its little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(ListBox)
    case dict(DictBox)
    /// A `module.name` reference (GLOBAL / STACK_GLOBAL).
    case global(module: String, name: String)
    /// The result of calling a global the machine does not evaluate itself (REDUCE, NEWOBJ).
    case call(callee: PickleValue, arguments: [PickleValue])
    /// An object whose state was set by BUILD.
    case built(object: PickleValue, state: PickleValue)
    /// An object the file refers to by persistent id (torch: a storage).
    case persistent(PickleValue)

    final class ListBox {
        var items: [PickleValue]
        init(_ items: [PickleValue] = []) { self.items = items }
    }

    /// Insertion-ordered, keyed by string or integer keys (all that weight files use).
    final class DictBox {
        private(set) var entries: [(key: PickleValue, value: PickleValue)] = []

        func set(_ key: PickleValue, _ value: PickleValue) {
            if let i = entries.firstIndex(where: { $0.key.isSameKey(as: key) }) {
                entries[i].value = value
            } else {
                entries.append((key, value))
            }
        }

        subscript(key: String) -> PickleValue? {
            entries.first(where: { $0.key.stringValue == key })?.value
        }
    }

    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var intValue: Int? {
        switch self {
        case .int(let i): i
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    var tupleItems: [PickleValue]? {
        switch self {
        case .tuple(let items): items
        case .list(let box): box.items
        default: nil
        }
    }

    fileprivate func isSameKey(as other: PickleValue) -> Bool {
        switch (self, other) {
        case (.string(let a), .string(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        default: false
        }
    }
}
