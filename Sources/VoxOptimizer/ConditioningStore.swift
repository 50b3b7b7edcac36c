import Crypto
import Foundation
import Logging
import VoxCore
import VoxONNX

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

    /// Runs `body` (look again, else compute and save) while holding `key`'s computation lock,
    /// for a store that several processes share: a store in PostgreSQL takes an advisory lock, so
    /// that a fleet computes each conditioning once. The default runs `body` at once.
    func exclusively<T: Sendable>(_ key: ConditioningKey, _ body: @Sendable () async throws -> T) async throws -> T
}

extension ConditioningStore {
    public func exclusively<T: Sendable>(_ key: ConditioningKey, _ body: @Sendable () async throws -> T) async throws -> T {
        try await body()
    }
}

/// How much a ``ConditioningStore`` holds.
public struct ConditioningStoreUsage: Sendable, Equatable, Codable {
    public var entries: Int
    public var bytes: Int

    public init(entries: Int, bytes: Int) {
        self.entries = entries
        self.bytes = bytes
    }
}

/// Keeps conditionings as one file per entry, `<digest>.conditioning`, in one folder (by default
/// `VoxPaths.cacheDirectory`). The layout is ``ConditioningFileFormat``'s. Entries are written to
/// a temporary file in the same folder and renamed into place, so several processes may share
/// the folder. All file work runs off the cooperative pool.
public struct DiskConditioningStore: ConditioningStore {
    /// File name extension of an entry.
    public static let fileExtension = "conditioning"
    /// Temporary files older than this are left-overs of a process that died mid-write; ``usage()`` deletes them.
    static let staleTemporaryFileAge: TimeInterval = 3600

    public let directory: URL
    private let logger: Logger

    public init(directory: URL, logger: Logger = Logger(label: "voxserve.cache")) {
        self.directory = directory.standardizedFileURL
        self.logger = logger
    }

    /// The file that holds (or would hold) the entry for `key`. Its name is the key's digest,
    /// never anything taken from a reference's file name or path.
    public func entryURL(for key: ConditioningKey) -> URL {
        directory.appendingPathComponent("\(key.digest).\(Self.fileExtension)")
    }

    public func load(_ key: ConditioningKey) async throws -> Conditioning? {
        let url = entryURL(for: key)
        return try await offload {
            let bytes: Data
            do {
                guard FileManager.default.fileExists(atPath: url.path) else { return nil }
                bytes = try Data(contentsOf: url)
            } catch {
                // Gone between the check and the read (another process discarded it) counts as absent.
                if !FileManager.default.fileExists(atPath: url.path) { return nil }
                throw VoxError.io("Cannot read conditioning cache entry \(url.path): \(error.localizedDescription)", path: url.path)
            }
            do {
                return try ConditioningFileFormat.decode(bytes, for: key)
            } catch let error as VoxError {
                try? FileManager.default.removeItem(at: url)
                throw VoxError(.io, "Discarded conditioning cache entry \(url.lastPathComponent): \(error.message).", detail: url.path)
            }
        }
    }

    public func save(_ conditioning: Conditioning, for key: ConditioningKey) async throws {
        let url = entryURL(for: key)
        try await offload {
            let bytes = try ConditioningFileFormat.encode(conditioning, for: key)
            try AtomicFile.write(bytes, to: url)
        }
    }

    public func remove(_ key: ConditioningKey) async throws {
        let url = entryURL(for: key)
        try await offload {
            do {
                try FileManager.default.removeItem(at: url)
            } catch where !FileManager.default.fileExists(atPath: url.path) {
                // already gone
            } catch {
                throw VoxError.io("Cannot remove conditioning cache entry \(url.path): \(error.localizedDescription)", path: url.path)
            }
        }
    }

    public func usage() async throws -> ConditioningStoreUsage {
        let directory = self.directory
        let logger = self.logger
        return try await offload {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            } catch where !FileManager.default.fileExists(atPath: directory.path) {
                return ConditioningStoreUsage(entries: 0, bytes: 0)
            } catch {
                throw VoxError.io("Cannot list the conditioning cache \(directory.path): \(error.localizedDescription)", path: directory.path)
            }
            var usage = ConditioningStoreUsage(entries: 0, bytes: 0)
            let now = Date()
            for name in names {
                let path = directory.appendingPathComponent(name).path
                guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { continue }
                if AtomicFile.isTemporaryFileName(name) {
                    if let modified = attributes[.modificationDate] as? Date,
                        now.timeIntervalSince(modified) > Self.staleTemporaryFileAge
                    {
                        try? FileManager.default.removeItem(atPath: path)
                        logger.debug("Removed a stale temporary cache file", metadata: ["vox.cache.path": "\(path)"])
                    }
                    continue
                }
                guard Self.isEntryFileName(name) else { continue }
                usage.entries += 1
                usage.bytes += (attributes[.size] as? NSNumber)?.intValue ?? 0
            }
            return usage
        }
    }

    static func isEntryFileName(_ name: String) -> Bool {
        let suffix = ".\(fileExtension)"
        return name.hasSuffix(suffix) && ConditioningKey.isDigest(String(name.dropLast(suffix.count)))
    }
}

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
public enum ConditioningFileFormat {
    public static let formatName = "voxserve-conditioning"
    public static let currentVersion = 1
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
    public static func encode(
        _ conditioning: Conditioning, for key: ConditioningKey,
        version: Int = currentVersion, format: String = formatName
    ) throws -> Data {
        var records: [TensorRecord] = []
        var offset = 0
        let names = conditioning.keys.sorted()
        for name in names {
            let tensor = conditioning[name]!
            guard let dtype = dtypeName(tensor.elementType) else {
                throw VoxError.engineFailure("Conditioning tensor '\(name)' has type \(tensor.elementType.rawValue), which the cache cannot store.")
            }
            records.append(TensorRecord(name: name, dtype: dtype, shape: tensor.shape, dataOffsets: [offset, offset + tensor.bytes.count]))
            offset += tensor.bytes.count
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
        for name in names { out.append(conditioning[name]!.bytes) }
        out.append(contentsOf: SHA256.hash(data: out))
        return out
    }

    /// The conditioning stored in `bytes`, which must be the entry for `key`. Throws a `VoxError`
    /// whose message is the reason the entry is unusable.
    public static func decode(_ bytes: Data, for key: ConditioningKey) throws -> Conditioning {
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
        var tensors: Conditioning = [:]
        var expectedOffset = 0
        for record in header.tensors {
            guard let type = elementType(dtypeName: record.dtype) else {
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
            guard let count = elementCount(of: record.shape), count.multipliedReportingOverflow(by: type.size) == (range.count, false) else {
                throw invalid("tensor '\(record.name)' of shape \(record.shape) does not fill its \(range.count) bytes")
            }
            tensors[record.name] = Tensor(elementType: type, shape: record.shape, bytes: bytes.subdata(in: range))
            expectedOffset = record.dataOffsets[1]
        }
        guard expectedOffset == dataLength else {
            throw invalid("the data section has \(dataLength - expectedOffset) bytes that no tensor claims")
        }
        return tensors
    }

    /// The safetensors dtype name the header stores for an element type.
    static func dtypeName(_ type: TensorElementType) -> String? {
        switch type {
        case .float32: "F32"
        case .float16: "F16"
        case .bfloat16: "BF16"
        case .double: "F64"
        case .int64: "I64"
        case .int32: "I32"
        case .int8: "I8"
        case .uint8: "U8"
        case .bool: "BOOL"
        case .other: nil
        }
    }

    static func elementType(dtypeName: String) -> TensorElementType? {
        TensorElementType.allStored.first { self.dtypeName($0) == dtypeName }
    }

    /// nil when a dimension is negative or the product overflows.
    static func elementCount(of shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    private static func invalid(_ reason: String) -> VoxError {
        VoxError(.io, reason)
    }
}

