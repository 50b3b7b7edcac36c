import Foundation
import Hummingbird
import NIOCore
import VoxCore
import VoxRuntime

/// `GET /v1/voices`, `POST /v1/voices` (multipart upload of a reference recording) and
/// `DELETE /v1/voices/{id}`.
struct VoicesController<Context: RequestContext>: Sendable {
    let service: any SpeechService
    let configuration: ServerConfiguration

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("voices", use: list)
        group.post("voices", use: add)
        group.delete("voices/{id}", use: remove)
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
        guard let contentType = request.headers[.contentType], let boundary = MultipartFormData.boundary(contentType: contentType) else {
            throw APIError.badRequest(
                "Upload a voice as multipart/form-data with the fields 'name' and 'file'.", code: .invalidContentType)
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
        let form: MultipartFormData
        do {
            form = try MultipartFormData.parse(body.data, boundary: boundary)
        } catch let error as MultipartFormData.ParseError {
            throw APIError.badRequest("The multipart body is malformed: \(error.reason).", code: .invalidMultipart)
        }
        guard let name = form.text("name")?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty else {
            throw APIError.badRequest("The form field 'name' is missing: name the voice.", code: .missingField, param: "name")
        }
        try RequestVoiceName.validate(name, field: "name")
        guard let file = form.part(named: "file"), !file.data.isEmpty else {
            throw APIError.badRequest("The form field 'file' is missing or empty: attach a WAV, FLAC, OGG or MP3 recording.", code: .missingField, param: "file")
        }
        let replacing = ["1", "true", "yes"].contains(form.text("replace")?.lowercased() ?? "")
        // Only the last path component of the client's file name is kept, for display.
        let fileName = file.fileName.map { String($0.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last ?? "") }
        let voice = try await service.addVoice(name: name, audio: file.data, fileName: fileName, replacing: replacing)
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
