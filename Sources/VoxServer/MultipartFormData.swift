import Foundation

/// A parsed `multipart/form-data` body (RFC 7578): the fields of an HTML form upload.
struct MultipartFormData: Sendable, Equatable {
    struct Part: Sendable, Equatable {
        var name: String
        var fileName: String?
        var contentType: String?
        var data: Data
    }

    var parts: [Part]

    func part(named name: String) -> Part? { parts.first { $0.name == name } }

    /// A text field's value.
    func text(_ name: String) -> String? { part(named: name).map { String(decoding: $0.data, as: UTF8.self) } }

    /// The boundary of a `multipart/form-data` content type, or nil for any other type.
    static func boundary(contentType: String) -> String? {
        let pieces = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let type = pieces.first, type.lowercased() == "multipart/form-data" else { return nil }
        for piece in pieces.dropFirst() {
            let kv = piece.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, kv[0].lowercased() == "boundary" else { continue }
            var value = kv[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty || value.count > 200 ? nil : value
        }
        return nil
    }

    struct ParseError: Error, Equatable {
        var reason: String
    }

    /// Parses `body` split by `boundary`. Throws on a body that does not follow the format.
    static func parse(_ body: Data, boundary: String) throws -> MultipartFormData {
        let bytes = [UInt8](body)
        let delimiter = Array("--\(boundary)".utf8)
        let crlf: [UInt8] = [13, 10]
        guard var position = find(delimiter, in: bytes, from: 0) else {
            throw ParseError(reason: "the body has no part delimited by the boundary")
        }
        var parts: [Part] = []
        while true {
            position += delimiter.count
            // "--" after a delimiter ends the body.
            if position + 1 < bytes.count, bytes[position] == 45, bytes[position + 1] == 45 { break }
            guard position + 1 < bytes.count, bytes[position] == 13, bytes[position + 1] == 10 else {
                throw ParseError(reason: "a boundary line is not followed by CRLF")
            }
            position += 2
            guard let headerEnd = find(crlf + crlf, in: bytes, from: position) else {
                throw ParseError(reason: "a part has no blank line after its headers")
            }
            let headerText = String(decoding: bytes[position..<headerEnd], as: UTF8.self)
            let contentStart = headerEnd + 4
            guard let next = find(crlf + delimiter, in: bytes, from: contentStart) else {
                throw ParseError(reason: "the body ends without its closing boundary")
            }
            var part = Part(name: "", fileName: nil, contentType: nil, data: Data(bytes[contentStart..<next]))
            for line in headerText.components(separatedBy: "\r\n") {
                let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2 else { continue }
                switch kv[0].lowercased() {
                case "content-disposition":
                    let params = dispositionParameters(kv[1])
                    part.name = params["name"] ?? ""
                    part.fileName = params["filename"]
                case "content-type":
                    part.contentType = kv[1]
                default:
                    break
                }
            }
            guard !part.name.isEmpty else { throw ParseError(reason: "a part has no form field name") }
            parts.append(part)
            position = next + 2
        }
        return MultipartFormData(parts: parts)
    }

    /// `form-data; name="file"; filename="a.wav"` → ["name": "file", "filename": "a.wav"].
    static func dispositionParameters(_ value: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = Substring(value)
        while let semicolon = rest.firstIndex(of: ";") {
            rest = rest[rest.index(after: semicolon)...].drop(while: { $0 == " " })
            guard let eq = rest.firstIndex(of: "=") else { break }
            let key = rest[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: eq)...]
            var parsed = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let c = rest.first {
                    rest = rest.dropFirst()
                    if escaped { parsed.append(c); escaped = false }
                    else if c == "\\" { escaped = true }
                    else if c == "\"" { break }
                    else { parsed.append(c) }
                }
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                parsed = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            result[key] = parsed
        }
        return result
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var i = start
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
