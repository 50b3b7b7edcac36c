// libFuzzer target: the multipart/form-data parser of `POST /v1/voices`.
// Input: the first line is the Content-Type header; the rest is the body. Whatever the bytes, the
// parser returns parts or throws `MultipartFormData.ParseError`, never crashes.
// Built only by `make fuzz` (VOXSERVE_FUZZ=1); libFuzzer supplies `main`.
import Foundation
@testable import VoxServer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let input = UnsafeBufferPointer(start: start, count: count)
    let newline = input.firstIndex(of: 10) ?? input.endIndex
    let contentType = String(decoding: input[..<newline], as: UTF8.self)
    let body = newline < input.endIndex ? Data(input[(newline + 1)...]) : Data()

    // The header as the route reads it; when it names no usable boundary, the parser still runs
    // with one taken from the header text, so that both halves are explored.
    let boundary = MultipartFormData.boundary(contentType: contentType)
    if let boundary { precondition(!boundary.isEmpty && boundary.count <= 200, "boundary out of range") }
    let parseBoundary = boundary ?? (contentType.isEmpty ? "b" : String(contentType.prefix(70)))
    do {
        let form = try MultipartFormData.parse(body, boundary: parseBoundary)
        // What VoicesController does next with a parsed form.
        for part in form.parts {
            precondition(!part.name.isEmpty, "a part without a name was accepted")
            precondition(part.data.count <= body.count, "a part larger than the body")
            _ = form.part(named: part.name)
        }
        _ = form.text("name")?.trimmingCharacters(in: .whitespacesAndNewlines)
        _ = form.text("replace")?.lowercased()
        _ = form.part(named: "file")?.fileName.map { String($0.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last ?? "") }
    } catch is MultipartFormData.ParseError {
    } catch {
        fatalError("MultipartFormData.parse threw something other than a ParseError: \(error)")
    }
    _ = MultipartFormData.dispositionParameters(contentType)
    return 0
}
