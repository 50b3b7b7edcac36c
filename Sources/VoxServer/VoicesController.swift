import Foundation
import Hummingbird
import NIOCore
import VoxCore
import VoxRuntime

/// VoxServe's voice routes — `GET /v1/voices`, `POST /v1/voices` (multipart `name`, `file`),
/// `DELETE /v1/voices/{id}` — and OpenAI's — `GET /v1/audio/voices` (`{"voices":[{"id","name"}]}`,
/// the shape Open WebUI and Kokoro-FastAPI clients read), `POST /v1/audio/voices` (multipart
/// `name`, `audio_sample`, `consent`) and `DELETE /v1/audio/voices/{id}`. Both kinds of upload
/// land in the same voice library.
struct VoicesController<Context: RequestContext>: Sendable {
    let service: any SpeechService
    let configuration: ServerConfiguration

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("voices", use: list)
        group.post("voices", use: add)
        group.delete("voices/{id}", use: remove)
        group.get("audio/voices", use: listOpenAI)
        group.post("audio/voices", use: addOpenAI)
        group.delete("audio/voices/{id}", use: removeOpenAI)
    }

    struct VoiceList: ResponseEncodable {
        var object = "list"
        var data: [VoiceDescription]
    }

    @Sendable func list(request: Request, context: Context) async throws -> VoiceList {
        VoiceList(data: try await service.voices())
    }

    /// Form fields: `name` (the voice's id), `file` (the recording), optional `replace=true`.
    @Sendable func add(request: Request, context: Context) async throws -> Response {
        let form = try await readForm(request, fields: "'name' and 'file'")
        let name = try Self.name(in: form)
        guard let file = form.part(named: "file"), !file.data.isEmpty else {
            throw APIError.badRequest("The form field 'file' is missing or empty: attach a WAV, FLAC, OGG or MP3 recording.", code: .missingField, param: "file")
        }
        let replacing = ["1", "true", "yes"].contains(form.text("replace")?.lowercased() ?? "")
        let voice = try await service.addVoice(name: name, audio: file.data, fileName: Self.displayName(file.fileName), replacing: replacing)
        return try context.responseEncoder.encode(voice, from: request, context: context).with(status: .created)
    }

    @Sendable func remove(request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        try RequestVoiceName.validate(id, field: "id")
        try await service.removeVoice(id: id)
        return try context.responseEncoder.encode(Deleted(id: id), from: request, context: context)
    }

    struct Deleted: Encodable {
        var id: String
        var object = "voice"
        var deleted = true
    }

    // MARK: OpenAI's shapes

    struct OpenAIVoiceList: ResponseEncodable {
        struct Entry: Encodable {
            var id: String
            var name: String
        }

        var voices: [Entry]
    }

    /// The voices that can speak now, as `{"voices":[{"id","name"}]}`.
    @Sendable func listOpenAI(request: Request, context: Context) async throws -> OpenAIVoiceList {
        OpenAIVoiceList(voices: try await service.voices().filter(\.available).map { .init(id: $0.id, name: $0.id) })
    }

    /// OpenAI's custom voice object.
    struct OpenAIVoice: ResponseEncodable {
        var id: String
        var name: String
        var object = "audio.voice"
        var type = "audio_sample"
        var createdAt: Int

        enum CodingKeys: String, CodingKey {
            case id, name, object, type
            case createdAt = "created_at"
        }
    }

    /// OpenAI's `voices.create`: multipart `name`, `audio_sample`, `consent` (a consent recording's
    /// id at OpenAI; required here too, and kept with nothing else), optional `type`.
    @Sendable func addOpenAI(request: Request, context: Context) async throws -> OpenAIVoice {
        let form = try await readForm(request, fields: "'name', 'audio_sample' and 'consent'")
        if let type = form.text("type"), type != "audio_sample" {
            throw APIError.badRequest(
                "Only voices from an audio sample can be created here (type 'audio_sample'), not '\(type.prefix(40))'.", code: .unsupported, param: "type")
        }
        let name = try Self.name(in: form)
        guard let sample = form.part(named: "audio_sample"), !sample.data.isEmpty else {
            throw APIError.badRequest(
                "The form field 'audio_sample' is missing or empty: attach a WAV, FLAC, OGG or MP3 recording.", code: .missingField, param: "audio_sample")
        }
        guard let consent = form.text("consent"), !consent.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIError.badRequest(
                "The form field 'consent' is missing: confirm the speaker agreed to be cloned (any consent reference).", code: .missingField, param: "consent")
        }
        let voice = try await service.addVoice(name: name, audio: sample.data, fileName: Self.displayName(sample.fileName), replacing: false)
        return OpenAIVoice(id: voice.id, name: voice.id, createdAt: Int(Date().timeIntervalSince1970))
    }

    struct OpenAIDeleted: ResponseEncodable {
        var id: String
        var deleted = true
        var object = "audio.voice.deleted"
    }

    @Sendable func removeOpenAI(request: Request, context: Context) async throws -> OpenAIDeleted {
        let id = try context.parameters.require("id")
        try RequestVoiceName.validate(id, field: "voice_id")
        try await service.removeVoice(id: id)
        return OpenAIDeleted(id: id)
    }

    // MARK: Reading uploads

    /// The multipart body, within the upload limit.
    func readForm(_ request: Request, fields: String) async throws -> MultipartFormData {
        guard let contentType = request.headers[.contentType], let boundary = MultipartFormData.boundary(contentType: contentType) else {
            throw APIError.badRequest("Upload a voice as multipart/form-data with the fields \(fields).", code: .invalidContentType)
        }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > configuration.maxUploadBytes {
            throw Self.tooLarge(configuration.maxUploadBytes)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maxUploadBytes)
        } catch is NIOTooManyBytesError {
            throw Self.tooLarge(configuration.maxUploadBytes)  // a chunked body (no Content-Length) that ran past the limit
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw Self.tooLarge(configuration.maxUploadBytes)
        }
        do {
            return try MultipartFormData.parse(body.data, boundary: boundary)
        } catch let error as MultipartFormData.ParseError {
            throw APIError.badRequest("The multipart body is malformed: \(error.reason).", code: .invalidMultipart)
        }
    }

    static func name(in form: MultipartFormData) throws -> String {
        guard let name = form.text("name")?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty else {
            throw APIError.badRequest("The form field 'name' is missing: name the voice.", code: .missingField, param: "name")
        }
        try RequestVoiceName.validate(name, field: "name")
        return name
    }

    /// Only the last path component of the client's file name is kept, for display.
    static func displayName(_ fileName: String?) -> String? {
        fileName.map { String($0.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last ?? "") }
    }

    static func tooLarge(_ limit: Int) -> APIError {
        .tooLarge("The upload is larger than this server's limit of \(limit / 1024 / 1024) MiB (\(limit) bytes); trim the recording to 10–20 seconds.")
    }
}

extension Response {
    func with(status: HTTPResponse.Status) -> Response {
        var copy = self
        copy.status = status
        return copy
    }
}
