import VoxCore

/// A minimal pickle virtual machine: the opcodes of protocols 0–2 that torch's legacy
/// serialization writes, plus the few of protocols 3–4 that are cheap to understand.
/// It never imports or calls anything: globals become `.global`, calls become `.call`,
/// and the caller interprets them.
struct PickleMachine {
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    /// Runs one pickle from the reader's position to its STOP opcode and returns its value.
    static func load(_ reader: inout ByteReader) throws -> PickleValue {
        var machine = PickleMachine()
        return try machine.run(&reader)
    }

    private mutating func run(_ r: inout ByteReader) throws -> PickleValue {
        while true {
            let at = r.offset
            let op = try r.byte("a pickle opcode")
            switch op {
            case 0x80:  // PROTO
                let version = try r.byte("PROTO")
                guard version <= 5 else { throw corrupt(r, at, "pickle protocol \(version) is not supported") }
            case 0x95:  // FRAME (protocol 4): an 8-byte length; frames are just a hint
                try r.skip(8, "FRAME")
            case 0x2E:  // STOP
                return try pop(r, at)
            case 0x28:  // MARK
                marks.append(stack.count)
            case 0x29:  // EMPTY_TUPLE
                stack.append(.tuple([]))
            case 0x74:  // TUPLE
                stack.append(.tuple(try popToMark(r, at)))
            case 0x85, 0x86, 0x87:  // TUPLE1..3
                let n = Int(op - 0x84)
                guard stack.count >= n else { throw corrupt(r, at, "stack underflow") }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                stack.append(.tuple(items))
            case 0x5D:  // EMPTY_LIST
                stack.append(.list(.init()))
            case 0x6C:  // LIST
                stack.append(.list(.init(try popToMark(r, at))))
            case 0x61:  // APPEND
                let item = try pop(r, at)
                guard case .list(let box) = try top(r, at) else { throw corrupt(r, at, "APPEND to a non-list") }
                box.items.append(item)
            case 0x65:  // APPENDS
                let items = try popToMark(r, at)
                guard case .list(let box) = try top(r, at) else { throw corrupt(r, at, "APPENDS to a non-list") }
                box.items.append(contentsOf: items)
            case 0x7D:  // EMPTY_DICT
                stack.append(.dict(.init()))
            case 0x64:  // DICT
                let items = try popToMark(r, at)
                let box = PickleValue.DictBox()
                try setItems(box, items, r, at)
                stack.append(.dict(box))
            case 0x73:  // SETITEM
                let value = try pop(r, at)
                let key = try pop(r, at)
                guard case .dict(let box) = try top(r, at) else { throw corrupt(r, at, "SETITEM on a non-dict") }
                box.set(key, value)
            case 0x75:  // SETITEMS
                let items = try popToMark(r, at)
                guard case .dict(let box) = try top(r, at) else { throw corrupt(r, at, "SETITEMS on a non-dict") }
                try setItems(box, items, r, at)
            case 0x4E:  // NONE
                stack.append(.none)
            case 0x88:  // NEWTRUE
                stack.append(.bool(true))
            case 0x89:  // NEWFALSE
                stack.append(.bool(false))
            case 0x4A:  // BININT
                stack.append(.int(Int(try r.int32("BININT"))))
            case 0x4B:  // BININT1
                stack.append(.int(Int(try r.byte("BININT1"))))
            case 0x4D:  // BININT2
                stack.append(.int(Int(try r.unsigned(2, "BININT2"))))
            case 0x8A:  // LONG1
                let n = Int(try r.byte("LONG1"))
                stack.append(Self.long(try r.bytes(n, "LONG1")))
            case 0x8B:  // LONG4
                let n = Int(try r.int32("LONG4"))
                stack.append(Self.long(try r.bytes(n, "LONG4")))
            case 0x47:  // BINFLOAT: big-endian double
                let raw = try r.bytes(8, "BINFLOAT")
                stack.append(.float(Double(bitPattern: raw.reduce(0) { $0 << 8 | UInt64($1) })))
            case 0x58:  // BINUNICODE
                let n = Int(try r.unsigned(4, "BINUNICODE"))
                stack.append(.string(String(decoding: try r.bytes(n, "BINUNICODE"), as: UTF8.self)))
            case 0x8C:  // SHORT_BINUNICODE
                let n = Int(try r.byte("SHORT_BINUNICODE"))
                stack.append(.string(String(decoding: try r.bytes(n, "SHORT_BINUNICODE"), as: UTF8.self)))
            case 0x54:  // BINSTRING (protocol 1 str): decoded as Latin-1-compatible text
                let n = Int(try r.int32("BINSTRING"))
                stack.append(.string(String(decoding: try r.bytes(n, "BINSTRING"), as: UTF8.self)))
            case 0x55:  // SHORT_BINSTRING
                let n = Int(try r.byte("SHORT_BINSTRING"))
                stack.append(.string(String(decoding: try r.bytes(n, "SHORT_BINSTRING"), as: UTF8.self)))
            case 0x42:  // BINBYTES
                let n = Int(try r.unsigned(4, "BINBYTES"))
                stack.append(.bytes(try r.bytes(n, "BINBYTES")))
            case 0x43:  // SHORT_BINBYTES
                let n = Int(try r.byte("SHORT_BINBYTES"))
                stack.append(.bytes(try r.bytes(n, "SHORT_BINBYTES")))
            case 0x63:  // GLOBAL: "module\nname\n"
                let module = String(decoding: try r.line("GLOBAL"), as: UTF8.self)
                let name = String(decoding: try r.line("GLOBAL"), as: UTF8.self)
                stack.append(.global(module: module, name: name))
            case 0x93:  // STACK_GLOBAL
                let name = try pop(r, at)
                let module = try pop(r, at)
                guard let m = module.stringValue, let n = name.stringValue else {
                    throw corrupt(r, at, "STACK_GLOBAL needs two strings")
                }
                stack.append(.global(module: m, name: n))
            case 0x52:  // REDUCE
                let arguments = try pop(r, at)
                let callee = try pop(r, at)
                stack.append(Self.call(callee, arguments.tupleItems ?? [arguments]))
            case 0x81:  // NEWOBJ
                let arguments = try pop(r, at)
                let cls = try pop(r, at)
                stack.append(Self.call(cls, arguments.tupleItems ?? [arguments]))
            case 0x62:  // BUILD
                let state = try pop(r, at)
                let object = try pop(r, at)
                if case .dict(let box) = object, case .dict(let extra) = state {
                    for (k, v) in extra.entries { box.set(k, v) }
                    stack.append(object)
                } else {
                    stack.append(.built(object: object, state: state))
                }
            case 0x51:  // BINPERSID
                stack.append(.persistent(try pop(r, at)))
            case 0x71:  // BINPUT
                memo[Int(try r.byte("BINPUT"))] = try top(r, at)
            case 0x72:  // LONG_BINPUT
                memo[Int(try r.unsigned(4, "LONG_BINPUT"))] = try top(r, at)
            case 0x94:  // MEMOIZE
                memo[memo.count] = try top(r, at)
            case 0x68:  // BINGET
                stack.append(try get(Int(try r.byte("BINGET")), r, at))
            case 0x6A:  // LONG_BINGET
                stack.append(try get(Int(try r.unsigned(4, "LONG_BINGET")), r, at))
            case 0x30:  // POP
                if let mark = marks.last, mark == stack.count {
                    marks.removeLast()
                } else {
                    _ = try pop(r, at)
                }
            case 0x31:  // POP_MARK
                _ = try popToMark(r, at)
            case 0x32:  // DUP
                stack.append(try top(r, at))
            default:
                throw corrupt(r, at, "pickle opcode 0x\(String(op, radix: 16)) is not supported")
            }
        }
    }

    /// Calls that only build containers are evaluated; every other call stays symbolic.
    private static func call(_ callee: PickleValue, _ arguments: [PickleValue]) -> PickleValue {
        if case .global("collections", "OrderedDict") = callee, arguments.isEmpty {
            return .dict(.init())
        }
        return .call(callee: callee, arguments: arguments)
    }

    private static func long(_ bytes: [UInt8]) -> PickleValue {
        guard !bytes.isEmpty else { return .int(0) }
        guard bytes.count <= 8 else { return .bigInt(bytes) }
        var value: UInt64 = 0
        for (i, b) in bytes.enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        // sign-extend from the top byte
        if bytes.count < 8, bytes.last! & 0x80 != 0 {
            value |= UInt64.max << (8 * UInt64(bytes.count))
        }
        return .int(Int(Int64(bitPattern: value)))
    }

    private func setItems(_ box: PickleValue.DictBox, _ items: [PickleValue], _ r: ByteReader, _ at: Int) throws {
        guard items.count % 2 == 0 else { throw corrupt(r, at, "odd number of dict items") }
        for i in stride(from: 0, to: items.count, by: 2) { box.set(items[i], items[i + 1]) }
    }

    private mutating func pop(_ r: ByteReader, _ at: Int) throws -> PickleValue {
        guard let value = stack.popLast(), stack.count >= (marks.last ?? 0) else {
            throw corrupt(r, at, "stack underflow")
        }
        return value
    }

    private func top(_ r: ByteReader, _ at: Int) throws -> PickleValue {
        guard let value = stack.last else { throw corrupt(r, at, "stack underflow") }
        return value
    }

    private mutating func popToMark(_ r: ByteReader, _ at: Int) throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw corrupt(r, at, "MARK missing") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func get(_ index: Int, _ r: ByteReader, _ at: Int) throws -> PickleValue {
        guard let value = memo[index] else { throw corrupt(r, at, "memo slot \(index) is empty") }
        return value
    }

    private func corrupt(_ r: ByteReader, _ at: Int, _ what: String) -> VoxError {
        VoxError.invalidModel("\(r.source) is not a readable pickle: \(what) at byte \(at).", path: r.source)
    }
}
