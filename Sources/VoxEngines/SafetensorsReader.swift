import Foundation
import VoxONNX
import VoxCore

/// Reads safetensors files (Chatterbox's `ve.safetensors`, for example): an 8-byte little-endian
/// header length, a JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": …}`,
/// then the tensors' bytes, offsets counted from the end of the header.
/// F32, F64, F16, BF16 and the integer types are widened to Float.
public enum SafetensorsReader {
    public static func read(contentsOf url: URL) throws -> [String: Tensor] {
        let data = try mappedWeights(url)
        return try read(data, source: url.path)
    }

    /// The same as `read(contentsOf:)` for bytes already in memory; `source` names them in errors.
    public static func read(_ data: Data, source: String = "safetensors data") throws -> [String: Tensor] {
        func bad(_ what: String) -> VoxError {
            VoxError.invalidModel("\(source) is not a valid safetensors file: \(what).", path: source)
        }
        guard data.count >= 8 else { throw bad("it is shorter than its 8-byte header length") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8), headerLength <= 100_000_000 else {
            throw bad("the header length \(headerLength) does not fit the file")
        }
        let bodyStart = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data.subdata(in: data.startIndex + 8..<data.startIndex + bodyStart))
        } catch {
            throw bad("the header is not JSON")
        }
        guard let header = json as? [String: Any] else { throw bad("the header is not a JSON object") }
        let bodyLength = data.count - bodyStart
        var tensors: [String: Tensor] = [:]
        try data.withUnsafeBytes { raw in
            for (name, entry) in header where name != "__metadata__" {
                guard let info = entry as? [String: Any],
                    let dtype = info["dtype"] as? String,
                    let shape = (info["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                    let offsets = (info["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                    offsets.count == 2, shape.count == (info["shape"] as? [Any])?.count
                else { throw bad("the entry for \(name) lacks dtype, shape or data_offsets") }
                guard let type = elementType(dtype) else {
                    throw VoxError.invalidModel("\(source): tensor \(name) has dtype \(dtype), which VoxServe cannot read.", path: source)
                }
                let count = shape.reduce(1, *)
                guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= bodyLength,
                    offsets[1] - offsets[0] == count * type.size
                else { throw bad("the data of \(name) (\(offsets)) does not match its shape \(shape) and dtype \(dtype)") }
                let base = raw.baseAddress! + bodyStart + offsets[0]
                var values = [Float](repeating: 0, count: count)
                for i in 0..<count { values[i] = type.load(base, i) }
                tensors[name] = Tensor(float32: values, shape: shape)
            }
        }
        return tensors
    }

    static func elementType(_ dtype: String) -> StoredElementType? {
        switch dtype {
        case "F32": .float32
        case "F64": .float64
        case "F16": .float16
        case "BF16": .bfloat16
        case "I64": .int64
        case "I32": .int32
        case "I16": .int16
        case "I8": .int8
        case "U8": .uint8
        case "BOOL": .bool
        default: nil
        }
    }
}
