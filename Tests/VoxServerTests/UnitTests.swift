import Foundation
import Testing
import VoxCore
@testable import VoxServer

@Suite struct MultipartFormDataTests {
    @Test func parsesTextFieldsAndAFileWithBinaryContent() throws {
        let binary = Data([0, 13, 10, 45, 45, 255, 13, 10])  // CR LF and "--" inside the file
        let body = multipart(boundary: "XyZ", fields: ["name": "alice"], file: ("file", "dir/a b.wav", binary))
        let form = try MultipartFormData.parse(body.data, boundary: "XyZ")
        #expect(form.text("name") == "alice")
        let file = try #require(form.part(named: "file"))
        #expect(file.fileName == "dir/a b.wav")
        #expect(file.data == binary)
    }

    @Test func boundaryComesFromTheContentType() {
        #expect(MultipartFormData.boundary(contentType: "multipart/form-data; boundary=abc") == "abc")
        #expect(MultipartFormData.boundary(contentType: "Multipart/Form-Data; charset=utf-8; boundary=\"q r\"") == "q r")
        #expect(MultipartFormData.boundary(contentType: "application/json") == nil)
    }

    @Test func truncatedBodiesAreRejected() {
        #expect(throws: MultipartFormData.ParseError.self) {
            _ = try MultipartFormData.parse(Data("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nvalue".utf8), boundary: "b")
        }
    }
}

@Suite struct APIErrorMappingTests {
    @Test(arguments: [
        (VoxError.Kind.invalidInput, 400), (.unknownVoice, 404), (.modelNotFound, 404), (.invalidAudio, 400),
        (.unsupported, 501), (.unavailable, 503), (.invalidModel, 500), (.engineFailure, 500), (.io, 500), (.conflict, 409),
    ])
    func everyErrorKindHasOneStatus(kind: VoxError.Kind, status: Int) {
        let error = VoxError(kind, "message")
        #expect(error.status.code == status)
        #expect(error.apiError.message == "message")
        #expect((error.apiError.retryAfter != nil) == (status == 503))
    }

    @Test func voiceNamesThatCouldBePathsAreInvalid() {
        for good in ["en_US-joe-medium", "alice", "a.b", "A1"] { #expect(VoiceName.isValid(good)) }
        for bad in ["", "../x", "a/b", ".x", "a..b", "a b", "é", String(repeating: "x", count: 65)] { #expect(!VoiceName.isValid(bad)) }
    }
}
