import Foundation
import VoxAudio
import VoxCore
import VoxRuntime

/// The JSON body of `POST /v1/audio/speech`: OpenAI's fields, plus Piper's knobs as extensions.
struct SpeechRequestBody: Decodable, Sendable {
    var model: String?
    var input: String
    var voice: RequestVoice?
    var responseFormat: String?
    var speed: Double?
    /// `audio` (raw bytes, the default) or `sse` (OpenAI's server-sent events).
    var streamFormat: String?
    /// OpenAI's voice instructions ("speak cheerfully"): accepted, not applied (no engine here
    /// takes them); the response says so in `X-Vox-Ignored`.
    var instructions: String?
    /// Extension: false buffers the whole file (with Content-Length); the default streams.
    var stream: Bool?
    /// Extensions (not in OpenAI's API).
    var speakerID: Int?
    var lengthScale: Float?
    var noiseScale: Float?
    var noiseW: Float?
    var seed: UInt64?

    enum CodingKeys: String, CodingKey {
        case model, input, voice, speed, stream, seed, instructions
        case responseFormat = "response_format"
        case streamFormat = "stream_format"
        case speakerID = "speaker_id"
        case lengthScale = "length_scale"
        case noiseScale = "noise_scale"
        case noiseW = "noise_w"
    }

    /// OpenAI's speech model names; each means "the engine that speaks the chosen voice".
    static let openAIModels = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-03-20", "gpt-4o-mini-tts-2025-12-15"]

    /// What each field holds, in words, for error messages.
    static let expectedTypes: [String: String] = [
        "model": "text", "input": "text", "voice": "a voice name, or an object like {\"id\": \"en_US-joe-medium\"}",
        "response_format": "text", "speed": "a number from 0.25 to 4", "stream_format": "\"audio\" or \"sse\"", "instructions": "text",
        "stream": "true or false", "speaker_id": "a whole number", "length_scale": "a number from 0 to 10",
        "noise_scale": "a number from 0 to 10", "noise_w": "a number from 0 to 10", "seed": "a whole number from 0 up",
    ]

    static let example = #"{"input": "Hello", "voice": "en_US-joe-medium"}"#

    /// Parses a body, answering malformed JSON and wrong field types with a 400 that says, in
    /// words, what was expected and what came.
    static func decode(_ data: Data) throws -> SpeechRequestBody {
        guard !data.isEmpty else {
            throw APIError.badRequest("The request body is empty: send JSON like \(example).", code: .invalidJson)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw APIError.badRequest(
                "The request body is not valid JSON (check the quotes, commas and text encoding, which must be UTF-8): send an object like \(example).",
                code: .invalidJson)
        }
        guard let fields = object as? [String: Any] else {
            throw APIError.badRequest(
                "The request body must be a JSON object like \(example), not \(describe(object)).", code: .invalidType)
        }
        do {
            return try JSONDecoder().decode(SpeechRequestBody.self, from: data)
        } catch DecodingError.keyNotFound(let key, _) {
            throw APIError.badRequest("The field '\(key.stringValue)' is required: \(expectedTypes[key.stringValue] ?? "a value") (\(example)).", code: .missingField, param: key.stringValue)
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context) {
            // Foundation leaves the path empty for a number that does not fit its field.
            let field = context.codingPath.first?.stringValue ?? numberOutOfRange(in: fields) ?? ""
            let given = fields[field].map(describe) ?? "nothing"
            throw APIError.badRequest(
                "The field '\(field)' must be \(expectedTypes[field] ?? "another type"), not \(given).", code: .invalidType, param: field)
        } catch {
            throw APIError.badRequest("The request body does not fit this API: send an object like \(example).", code: .invalidJson)
        }
    }

    /// The first number field whose value its type cannot hold (a seed of 1e30, a length_scale
    /// of 1e308, which no Float holds).
    static func numberOutOfRange(in fields: [String: Any]) -> String? {
        let fitsFloat: (Double) -> Bool = { Float($0).isFinite }
        let checks: [(String, (Double) -> Bool)] = [
            ("speaker_id", { Int(exactly: $0) != nil }), ("seed", { UInt64(exactly: $0) != nil }),
            ("length_scale", fitsFloat), ("noise_scale", fitsFloat), ("noise_w", fitsFloat),
        ]
        return checks.first { key, fits in
            guard let number = fields[key] as? NSNumber else { return false }
            return !fits(number.doubleValue)
        }?.0
    }

    /// A JSON value's kind in words ("a list", "the number 5", "null").
    static func describe(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case let text as String: return text.count > 40 ? "text" : "the text \"\(text)\""
        case is [Any]: return "a list"
        case is [String: Any]: return "an object"
        case let number as NSNumber:
            if String(describing: type(of: number)).contains("Boolean") { return number.boolValue ? "true" : "false" }
            let text = number.stringValue
            return text.count > 24 ? "a number out of range" : "the number \(text)"
        default: return "a value of another kind"
        }
    }
}

/// Voice names a request may carry. They are only ever looked up among the known voices, but a
/// name that could be a path is refused before any lookup.
enum RequestVoiceName {
    /// `VoiceName`'s rule, answered as a 400 that names the field.
    static func validate(_ name: String, field: String = "voice") throws {
        guard VoiceName.isValid(name) else {
            throw APIError.badRequest(
                "'\(name.prefix(80))' is not a valid voice name: use 1–64 characters of A–Z a–z 0–9 _ . - (no '..', not starting with '.').",
                code: .invalidVoiceName, param: field)
        }
    }
}

/// `voice` as OpenAI's API takes it: a name, or a custom voice object `{"id": "..."}`.
struct RequestVoice: Decodable, Sendable, Equatable {
    var name: String

    init(name: String) { self.name = name }

    enum CodingKeys: String, CodingKey { case id }

    init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let name = try? single.decode(String.self) {
            self.name = name
            return
        }
        guard let object = try? decoder.container(keyedBy: CodingKeys.self), let id = try? object.decode(String.self, forKey: .id) else {
            throw DecodingError.typeMismatch(
                RequestVoice.self, .init(codingPath: decoder.codingPath, debugDescription: "a voice name or an object with an id"))
        }
        name = id
    }
}
