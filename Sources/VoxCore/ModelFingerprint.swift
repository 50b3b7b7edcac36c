import Foundation

/// Identifies model files for cache keys (conditioning entries, optimized graphs), the one scheme
/// every engine uses: each file's name, size, modification time and first 64 KiB, with its external
/// data file (`NAME_data`, as ONNX exports ship weights) when there is one. A changed, replaced or
/// re-downloaded model gets a new fingerprint without hashing gigabytes at every start.
public enum ModelFingerprint {
    /// 16 lowercase hex digits for `files`, in the order given.
    public static func of(_ files: URL...) -> String { of(files) }

    public static func of(_ files: [URL]) -> String {
        var hash = FNV1a()
        for url in files {
            hash.add(url.lastPathComponent)
            for file in [url, URL(fileURLWithPath: url.path + "_data")] {
                let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
                hash.add("\((attributes?[.size] as? NSNumber)?.int64Value ?? -1)")
                hash.add("\((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)")
            }
            if let handle = try? FileHandle(forReadingFrom: url) {
                hash.add(handle.readData(ofLength: 65_536))
                try? handle.close()
            }
        }
        return hash.hex
    }
}

/// 64-bit FNV-1a (not for security).
struct FNV1a {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ bytes: some Sequence<UInt8>) {
        for b in bytes {
            value ^= UInt64(b)
            value = value &* 0x0000_0100_0000_01B3
        }
        value ^= 0xFF
        value = value &* 0x0000_0100_0000_01B3
    }

    mutating func add(_ text: String) { add(text.utf8) }

    var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
