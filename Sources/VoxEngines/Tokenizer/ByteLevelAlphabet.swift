/// GPT-2's reversible mapping between bytes and printable characters: byte-level BPE works on
/// text in which every byte of the UTF-8 encoding is one of these 256 characters (a space is `Ġ`).
enum ByteLevelAlphabet {
    /// The character standing for each byte value.
    static let scalars: [Unicode.Scalar] = {
        var printable: [Int] = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for b in printable { table[b] = Unicode.Scalar(UInt32(b))! }
        var next = 0
        for b in 0..<256 where !printable.contains(b) {
            table[b] = Unicode.Scalar(UInt32(256 + next))!
            printable.append(b)
            next += 1
        }
        return table
    }()

    /// The byte each alphabet character stands for.
    static let bytes: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (b, s) in scalars.enumerated() { map[s] = UInt8(b) }
        return map
    }()

    /// `text`'s UTF-8 bytes written in the alphabet.
    static func encode(_ text: some StringProtocol) -> String {
        var out = String.UnicodeScalarView()
        for byte in text.utf8 { out.append(scalars[Int(byte)]) }
        return String(out)
    }

    /// The text an alphabet string stands for (invalid UTF-8 is repaired).
    static func decode(_ mapped: some StringProtocol) -> String {
        let bytes = mapped.unicodeScalars.compactMap { Self.bytes[$0] }
        return String(decoding: bytes, as: UTF8.self)
    }
}
