import Crypto
import Foundation
import VoxCore

/// The layout of one disk cache entry, in the manner of safetensors:
///
/// ```
/// [8 bytes]  N, the header's length, unsigned little-endian
/// [N bytes]  JSON header, UTF-8, padded with spaces so the tensor data starts 8-byte aligned:
///            {"format":"voxserve-conditioning","version":1,
///             "key":{"digest":…,"referenceSHA256":…,"engine":…,"modelFingerprint":…,"parameters":{…}},
///             "tensors":[{"name":…,"dtype":"F32"|"I64"|"F16","shape":[…],"dataOffsets":[begin,end]},…]}
/// [M bytes]  tensor elements, little-endian, row-major, in header order (sorted by name),
///            back to back; `dataOffsets` are relative to the start of this section
/// [32 bytes] SHA-256 of everything before it
/// ```
///
/// A reader accepts an entry only when the checksum matches, the format and version are this
/// build's, the key fields hash to the digest it asked for, and the tensors tile the data
/// section exactly.
enum ConditioningFileFormat {
    static let formatName = "voxserve-conditioning"
    static let currentVersion = 1
    static let checksumLength = 32
    /// No honest header comes near this; a larger length means the file is not ours.
    static let maxHeaderLength = 16 * 1024 * 1024

    struct Header: Codable {
        var format: String
        var version: Int
        var key: KeyFields
        var tensors: [TensorRecord]
    }

    struct KeyFields: Codable {
        var digest: String
        var referenceSHA256: String
        var engine: String
        var modelFingerprint: String
        var parameters: [String: String]
    }

    struct TensorRecord: Codable {
        var name: String
        var dtype: String
        var shape: [Int]
        var dataOffsets: [Int]
    }

    /// The bytes of an entry holding `conditioning` for `key`. `version` and `format` exist so that
    /// tests can write an entry of another version; production code uses the defaults.
    static func encode(
        _ conditioning: Conditioning, for key: ConditioningKey,
        version: Int = currentVersion, format: String = formatName
    ) throws -> Data {
        var records: [TensorRecord] = []
        var offset = 0
        for name in conditioning.names {
            let tensor = conditioning.tensors[name]!
            records.append(TensorRecord(name: name, dtype: tensor.dtype.rawValue, shape: tensor.shape, dataOffsets: [offset, offset + tensor.byteCount]))
            offset += tensor.byteCount
        }
        let header = Header(
            format: format, version: version,
            key: KeyFields(
                digest: key.digest, referenceSHA256: key.referenceSHA256, engine: key.engine,
                modelFingerprint: key.modelFingerprint, parameters: key.parameters
            ),
            tensors: records
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var json = try encoder.encode(header)
        while (8 + json.count) % 8 != 0 { json.append(UInt8(ascii: " ")) }

        var out = Data(capacity: 8 + json.count + offset + checksumLength)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for name in conditioning.names { out.append(conditioning.tensors[name]!.data) }
        out.append(contentsOf: SHA256.hash(data: out))
        return out
    }

    /// The conditioning stored in `bytes`, which must be the entry for `key`. Throws a `VoxError`
    /// whose message is the reason the entry is unusable.
    static func decode(_ bytes: Data, for key: ConditioningKey) throws -> Conditioning {
        let bytes = bytes.startIndex == 0 ? bytes : bytes.subdata(in: bytes.startIndex..<bytes.endIndex)
        guard bytes.count >= 8 + checksumLength else {
            throw invalid("the file is \(bytes.count) bytes long, shorter than any entry (truncated or empty)")
        }
        let bodyEnd = bytes.count - checksumLength
        let expected = Data(SHA256.hash(data: bytes[0..<bodyEnd]))
        guard bytes[bodyEnd...].elementsEqual(expected) else {
            throw invalid("the SHA-256 checksum does not match (corrupt or truncated)")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(maxHeaderLength), 8 + Int(headerLength) <= bodyEnd else {
            throw invalid("the header length \(headerLength) does not fit the file")
        }
        let dataStart = 8 + Int(headerLength)
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: bytes.subdata(in: 8..<dataStart))
        } catch {
            throw invalid("the header is not a conditioning header (\(error))")
        }
        guard header.format == formatName else {
            throw invalid("the header's format is '\(header.format)', not '\(formatName)'")
        }
        guard header.version == currentVersion else {
            throw invalid("the entry has format version \(header.version); this build reads version \(currentVersion)")
        }
        let stored = ConditioningKey(
            referenceSHA256: header.key.referenceSHA256, engine: header.key.engine,
            modelFingerprint: header.key.modelFingerprint, parameters: header.key.parameters
        )
        guard header.key.digest == key.digest, stored == key else {
            throw invalid("the entry belongs to another key (\(stored), asked for \(key))")
        }

        let dataLength = bodyEnd - dataStart
        var tensors: [String: ConditioningTensor] = [:]
        var expectedOffset = 0
        for record in header.tensors {
            guard let dtype = ConditioningDType(rawValue: record.dtype) else {
                throw invalid("tensor '\(record.name)' has unknown dtype '\(record.dtype)'")
            }
            guard record.dataOffsets.count == 2, record.dataOffsets[0] == expectedOffset,
                record.dataOffsets[1] >= record.dataOffsets[0], record.dataOffsets[1] <= dataLength
            else {
                throw invalid("tensor '\(record.name)' has data offsets \(record.dataOffsets) that do not tile the data section")
            }
            guard tensors[record.name] == nil else {
                throw invalid("tensor '\(record.name)' appears twice")
            }
            let range = (dataStart + record.dataOffsets[0])..<(dataStart + record.dataOffsets[1])
            do {
                tensors[record.name] = try ConditioningTensor(dtype: dtype, shape: record.shape, data: bytes.subdata(in: range))
            } catch let error as VoxError {
                throw invalid("tensor '\(record.name)': \(error.message)")
            }
            expectedOffset = record.dataOffsets[1]
        }
        guard expectedOffset == dataLength else {
            throw invalid("the data section has \(dataLength - expectedOffset) bytes that no tensor claims")
        }
        return Conditioning(tensors)
    }

    private static func invalid(_ reason: String) -> VoxError {
        VoxError(.io, reason)
    }
}
