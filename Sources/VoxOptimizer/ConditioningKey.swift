import Crypto
import Foundation
import VoxCore

/// Identifies one conditioning: the SHA-256 of the reference recording's bytes, the engine, the
/// model files and the conditioning parameters, folded into one hex ``digest``.
///
/// The reference is hashed from its content every time a key is made (hashing a few MB costs
/// milliseconds), so a file that changes under the same name and size gets a new key, and the
/// same recording under two names or paths gets the same key. A file name or path never enters
/// the key; there is deliberately no initializer that takes one.
public struct ConditioningKey: Sendable, Hashable, CustomStringConvertible {
    /// Lowercase hex SHA-256 of the reference's encoded bytes.
    public let referenceSHA256: String
    /// Engine id, for example "chatterbox".
    public let engine: String
    /// ``SynthesizerInfo/modelFingerprint`` of the model that computes the conditioning.
    public let modelFingerprint: String
    /// Everything else that changes the result (sample rate, trim settings, exaggeration, …).
    public let parameters: [String: String]
    /// Lowercase hex SHA-256 over all of the above: the cache's key and the entry's file name.
    public let digest: String

    /// Hashes `referenceData` and builds the key.
    public init(referenceData: Data, engine: String, modelFingerprint: String, parameters: [String: String] = [:]) {
        self.init(
            referenceSHA256: Self.hex(SHA256.hash(data: referenceData)),
            engine: engine, modelFingerprint: modelFingerprint, parameters: parameters
        )
    }

    /// Hashes the reference's bytes (its label plays no part) and builds the key.
    public init(reference: VoiceReference, engine: String, modelFingerprint: String, parameters: [String: String] = [:]) {
        self.init(referenceData: reference.data, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters)
    }

    /// From fields that were hashed before: used when reading a cache entry's header back.
    init(referenceSHA256: String, engine: String, modelFingerprint: String, parameters: [String: String]) {
        self.referenceSHA256 = referenceSHA256
        self.engine = engine
        self.modelFingerprint = modelFingerprint
        self.parameters = parameters
        self.digest = Self.digest(
            referenceSHA256: referenceSHA256, engine: engine, modelFingerprint: modelFingerprint, parameters: parameters
        )
    }

    public var description: String { "\(engine)/\(digest.prefix(12))" }

    /// SHA-256 over a length-prefixed encoding of every field, parameters sorted by the UTF-8
    /// bytes of their names, so that no two different keys share an encoding ("ab"+"c" vs "a"+"bc").
    static func digest(referenceSHA256: String, engine: String, modelFingerprint: String, parameters: [String: String]) -> String {
        var hasher = SHA256()
        func field(_ string: String) {
            let bytes = Array(string.utf8)
            withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        field("voxserve.conditioning-key.v1")
        field(referenceSHA256)
        field(engine)
        field(modelFingerprint)
        let sorted = parameters.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
        field(String(sorted.count))
        for (name, value) in sorted {
            field(name)
            field(value)
        }
        return hex(hasher.finalize())
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True for a 64-character lowercase hex string: what a digest looks like, and all a file name made from one can be.
    static func isDigest(_ string: String) -> Bool {
        string.utf8.count == 64 && string.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
