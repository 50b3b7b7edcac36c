import Foundation
import VoxAudio
import VoxCore
import VoxRuntime

/// The JSON body of `POST /v1/audio/speech`: OpenAI's fields, plus Piper's knobs as extensions.
struct SpeechRequestBody: Decodable, Sendable {
    var model: String?
    var input: String
    var voice: String?
    var responseFormat: String?
    var speed: Double?
    var stream: Bool?
    /// Extensions (not in OpenAI's API).
    var speakerID: Int?
    var lengthScale: Float?
    var noiseScale: Float?
    var noiseW: Float?
    var seed: UInt64?

    enum CodingKeys: String, CodingKey {
        case model, input, voice, speed, stream, seed
        case responseFormat = "response_format"
        case speakerID = "speaker_id"
        case lengthScale = "length_scale"
        case noiseScale = "noise_scale"
        case noiseW = "noise_w"
    }

    /// The request OpenAI clients send to their default model names; all mean "this server's engine".
    static let openAIModels: Set<String> = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"]

    /// Parses a body, answering malformed JSON and wrong field types with a 400 that says which.
    static func decode(_ data: Data) throws -> SpeechRequestBody {
        guard !data.isEmpty else {
            throw APIError.badRequest("The request body is empty: send JSON like {\"input\": \"Hello\", \"voice\": \"en_US-joe-medium\"}.", code: .invalidJson)
        }
        do {
            return try JSONDecoder().decode(SpeechRequestBody.self, from: data)
        } catch DecodingError.keyNotFound(let key, _) {
            throw APIError.badRequest("The field '\(key.stringValue)' is required.", code: .missingField, param: key.stringValue)
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError.badRequest("The field '\(field)' has the wrong type.", code: .invalidType, param: field)
        } catch {
            throw APIError.badRequest("The request body is not valid JSON: send an object like {\"input\": \"Hello\"}.", code: .invalidJson)
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
