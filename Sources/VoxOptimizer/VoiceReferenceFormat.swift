import Foundation

/// Container formats a voice reference may be stored in (what libsndfile 1.2 reads), recognised by
/// their first bytes rather than by a file name. The raw value is the stored file's extension.
public enum VoiceReferenceFormat: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case wav
    case flac
    case ogg
    case mp3
    case aiff

    public var fileExtension: String { rawValue }

    /// The format `data` starts like, or nil when it is none of these.
    public static func detect(_ data: Data) -> VoiceReferenceFormat? {
        let head = [UInt8](data.prefix(12))
        func ascii(_ text: String, at offset: Int) -> Bool {
            let bytes = Array(text.utf8)
            return head.count >= offset + bytes.count && Array(head[offset..<(offset + bytes.count)]) == bytes
        }
        if (ascii("RIFF", at: 0) || ascii("RF64", at: 0)) && ascii("WAVE", at: 8) { return .wav }
        if ascii("fLaC", at: 0) { return .flac }
        if ascii("OggS", at: 0) { return .ogg }
        if ascii("FORM", at: 0) && (ascii("AIFF", at: 8) || ascii("AIFC", at: 8)) { return .aiff }
        if ascii("ID3", at: 0) { return .mp3 }
        // An MPEG audio frame header: 11 sync bits, a version other than "reserved" (01) and a
        // layer other than "reserved" (00), which also rules out AAC's ADTS headers.
        if head.count >= 2, head[0] == 0xFF, head[1] & 0xE0 == 0xE0, head[1] & 0x18 != 0x08, head[1] & 0x06 != 0 {
            return .mp3
        }
        return nil
    }
}
