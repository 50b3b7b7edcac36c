import Foundation
import VoxONNX
import VoxCore

/// Reads torch's legacy (non-zip) serialization, the format of Resemblyzer's `pretrained.pt`.
///
/// The file is five pickles — the magic number, the protocol version (1001), system info,
/// the object, and the list of storage keys — followed by every storage in that order as an
/// int64 element count and its raw little-endian elements. Tensors in the object are
/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` calls whose storage is
/// a persistent id `("storage", torch.FloatStorage, key, location, count, view)`; several
/// tensors may share one storage at different offsets.
///
/// Nothing in the file is executed: the pickles are read by `PickleMachine`, which only builds
/// values. The zip-based format of torch ≥ 1.6 is not handled.
public enum TorchLegacyReader {
    static let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]  // 0x1950a86a20f9469cfc6c
    static let protocolVersion = 1001

    /// The tensors of the checkpoint's state dict. When the top-level object is a dict with a
    /// `model_state` or `state_dict` dict (training checkpoints), that dict is the state dict;
    /// otherwise the top-level dict is. Entries that are not tensors are left out.
    public static func read(contentsOf url: URL) throws -> [String: Tensor] {
        let data = try mappedWeights(url)
        return try read(data, source: url.path)
    }

    /// The same as `read(contentsOf:)` for bytes already in memory; `source` names them in errors.
    public static func read(_ data: Data, source: String = "torch checkpoint") throws -> [String: Tensor] {
        try data.withUnsafeBytes { raw in
            var reader = ByteReader(raw, source: source)
            try checkHeader(&reader)
            let object = try PickleMachine.load(&reader)
            guard let keys = try PickleMachine.load(&reader).tupleItems?.map(\.stringValue), !keys.contains(nil) else {
                throw VoxError.invalidModel("\(source): the list of storage keys is not a list of strings.", path: source)
            }
            let state = stateDict(object)
            guard let state else {
                throw VoxError.invalidModel("\(source) holds no dict of tensors (not a state dict or checkpoint).", path: source)
            }
            var references: [(name: String, tensor: TensorReference)] = []
            for (key, value) in state.entries {
                guard let name = key.stringValue, let tensor = try TensorReference(value, source: source) else { continue }
                references.append((name, tensor))
            }
            // Element types come from the storage ids anywhere in the object (optimizer state
            // included): skipping a storage needs its element size.
            var types: [String: StoredElementType] = [:]
            collectStorageTypes(object, into: &types)
            var storages: [String: (offset: Int, count: Int, type: StoredElementType)] = [:]
            for case let key? in keys {
                let count = Int(try reader.int64("the element count of storage \(key)"))
                guard let type = types[key] else {
                    throw VoxError.invalidModel("\(source): storage \(key) is listed but nothing refers to it, so its size is unknown.", path: source)
                }
                guard count >= 0, count <= reader.remaining / type.size else { throw reader.truncated("storage \(key)") }
                storages[key] = (reader.offset, count, type)
                try reader.skip(count * type.size, "storage \(key)")
            }
            var tensors: [String: Tensor] = [:]
            for (name, tensor) in references {
                guard let storage = storages[tensor.storageKey] else {
                    throw VoxError.invalidModel("\(source): tensor \(name) refers to storage \(tensor.storageKey), which the file does not hold.", path: source)
                }
                tensors[name] = try tensor.materialize(raw.baseAddress! + storage.offset, count: storage.count, name: name, source: source)
            }
            return tensors
        }
    }

    private static func checkHeader(_ reader: inout ByteReader) throws {
        let source = reader.source
        guard case .bigInt(let magicBytes) = try PickleMachine.load(&reader), magicBytes == magic else {
            throw VoxError.invalidModel("\(source) is not a legacy torch file (wrong magic number); zip-based .pt files are not supported.", path: source)
        }
        let version = try PickleMachine.load(&reader).intValue
        guard version == protocolVersion else {
            throw VoxError.invalidModel("\(source) uses torch legacy protocol \(version.map(String.init) ?? "?"); only \(protocolVersion) is supported.", path: source)
        }
        _ = try PickleMachine.load(&reader)  // sys info: endianness and type sizes
    }

    /// Records the element type of every storage id `("storage", torch.XStorage, key, …)` in `value`.
    private static func collectStorageTypes(_ value: PickleValue, into types: inout [String: StoredElementType]) {
        switch value {
        case .persistent(let id):
            if let items = id.tupleItems, items.count >= 3, items[0].stringValue == "storage",
                case .global(_, let name) = items[1], let key = items[2].stringValue,
                let type = TensorReference.elementType(name)
            {
                types[key] = type
            }
        case .tuple(let items):
            for item in items { collectStorageTypes(item, into: &types) }
        case .list(let box):
            for item in box.items { collectStorageTypes(item, into: &types) }
        case .dict(let box):
            for (_, item) in box.entries { collectStorageTypes(item, into: &types) }
        case .call(let callee, let arguments):
            collectStorageTypes(callee, into: &types)
            for item in arguments { collectStorageTypes(item, into: &types) }
        case .built(let object, let state):
            collectStorageTypes(object, into: &types)
            collectStorageTypes(state, into: &types)
        default:
            break
        }
    }

    private static func stateDict(_ object: PickleValue) -> PickleValue.DictBox? {
        guard case .dict(let top) = object else { return nil }
        for key in ["model_state", "state_dict"] {
            if case .dict(let inner)? = top[key] { return inner }
        }
        return top
    }

    /// A `_rebuild_tensor_v2` call: where a tensor's elements are in its storage.
    struct TensorReference {
        var storageKey: String
        var type: StoredElementType
        var offset: Int
        var shape: [Int]
        var strides: [Int]

        /// nil when `value` is not a tensor; throws when it is one that cannot be read.
        init?(_ value: PickleValue, source: String) throws {
            var value = value
            // torch.nn.Parameter wraps the tensor: _rebuild_parameter(tensor, requires_grad, hooks)
            if case .call(.global("torch._utils", "_rebuild_parameter"), let arguments) = value, let first = arguments.first {
                value = first
            }
            guard case .call(.global("torch._utils", let function), let arguments) = value,
                function == "_rebuild_tensor_v2" || function == "_rebuild_tensor"
            else { return nil }
            func bad(_ what: String) -> VoxError {
                VoxError.invalidModel("\(source): a tensor record is malformed (\(what)).", path: source)
            }
            guard arguments.count >= 4,
                case .persistent(let id) = arguments[0], let idItems = id.tupleItems, idItems.count >= 5,
                idItems[0].stringValue == "storage",
                case .global(_, let typeName) = idItems[1],
                let key = idItems[2].stringValue
            else { throw bad("storage id") }
            guard let type = Self.elementType(typeName) else {
                throw VoxError.invalidModel("\(source): tensors of type \(typeName) are not supported.", path: source)
            }
            var viewOffset = 0
            if idItems.count > 5, let view = idItems[5].tupleItems, view.count >= 2, let o = view[1].intValue {
                viewOffset = o
            }
            guard let offset = arguments[1].intValue,
                let shape = arguments[2].tupleItems?.compactMap(\.intValue),
                let strides = arguments[3].tupleItems?.compactMap(\.intValue),
                shape.count == arguments[2].tupleItems?.count, strides.count == shape.count
            else { throw bad("offset, size or stride") }
            self.storageKey = key
            self.type = type
            self.offset = viewOffset + offset
            self.shape = shape
            self.strides = strides
        }

        static func elementType(_ storageName: String) -> StoredElementType? {
            switch storageName {
            case "FloatStorage": .float32
            case "DoubleStorage": .float64
            case "HalfStorage": .float16
            case "BFloat16Storage": .bfloat16
            case "LongStorage": .int64
            case "IntStorage": .int32
            case "ShortStorage": .int16
            case "CharStorage": .int8
            case "ByteStorage": .uint8
            case "BoolStorage": .bool
            default: nil
            }
        }

        /// Copies the (possibly strided) view out of a storage of `count` elements.
        func materialize(_ base: UnsafeRawPointer, count: Int, name: String, source: String) throws -> Tensor {
            let total = shape.reduce(1, *)
            guard shape.allSatisfy({ $0 >= 0 }), offset >= 0 else {
                throw VoxError.invalidModel("\(source): tensor \(name) has a negative size or offset.", path: source)
            }
            if total > 0 {
                let last = offset + zip(shape, strides).reduce(0) { $0 + ($1.0 - 1) * $1.1 }
                guard strides.allSatisfy({ $0 >= 0 }), last < count else {
                    throw VoxError.invalidModel("\(source): tensor \(name) reaches past the end of its storage.", path: source)
                }
            }
            var data = [Float](repeating: 0, count: total)
            let type = self.type
            if strides == Self.contiguousStrides(shape) {
                for i in 0..<total { data[i] = type.load(base, offset + i) }
            } else {
                var index = [Int](repeating: 0, count: shape.count)
                for i in 0..<total {
                    var position = offset
                    for d in 0..<shape.count { position += index[d] * strides[d] }
                    data[i] = type.load(base, position)
                    var d = shape.count - 1
                    while d >= 0 {
                        index[d] += 1
                        if index[d] < shape[d] { break }
                        index[d] = 0
                        d -= 1
                    }
                }
            }
            return Tensor(float32: data, shape: shape)
        }

        static func contiguousStrides(_ shape: [Int]) -> [Int] {
            var strides = [Int](repeating: 1, count: shape.count)
            var step = 1
            for d in stride(from: shape.count - 1, through: 0, by: -1) {
                strides[d] = step
                step *= shape[d]
            }
            return strides
        }
    }
}
