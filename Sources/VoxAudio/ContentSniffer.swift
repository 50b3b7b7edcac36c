import Foundation

/// Names common non-audio contents from their first bytes, so that an upload of the wrong file
/// gets an error that says what it actually is.
enum ContentSniffer {
    /// "a PNG image", "a text file", … or nil when the bytes could be audio.
    static func nonAudioDescription(of bytes: [UInt8]) -> String? {
        let signatures: [(prefix: [UInt8], name: String)] = [
            ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG image"),
            ([0xFF, 0xD8, 0xFF], "a JPEG image"),
            (Array("GIF8".utf8), "a GIF image"),
            (Array("%PDF".utf8), "a PDF document"),
            ([0x50, 0x4B, 0x03, 0x04], "a ZIP archive"),
            ([0x1F, 0x8B], "a gzip archive"),
        ]
        for signature in signatures where bytes.starts(with: signature.prefix) {
            return signature.name
        }
        if bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WEBP".utf8) {
            return "a WebP image"
        }
        if bytes.count >= 12, bytes[4..<8].elementsEqual("ftyp".utf8) {
            return "an MP4/M4A container (not supported: convert it to WAV, FLAC, OGG or MP3)"
        }
        return looksLikeText(bytes.prefix(1024)) ? "a text file" : nil
    }

    /// Valid UTF-8 with no control characters other than tab, newline and carriage return.
    private static func looksLikeText(_ head: ArraySlice<UInt8>) -> Bool {
        guard !head.isEmpty else { return false }
        // The window may end inside a multi-byte character: drop up to three bytes to find its end.
        for cut in 0...min(3, head.count - 1) {
            if let text = String(bytes: head.dropLast(cut), encoding: .utf8) {
                return text.unicodeScalars.allSatisfy { scalar in
                    scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar.properties.generalCategory != .control
                }
            }
        }
        return false
    }
}
