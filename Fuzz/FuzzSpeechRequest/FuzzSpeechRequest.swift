// libFuzzer target: the JSON body of `POST /v1/audio/speech`, decoded and then checked as the
// route checks it (voice name, response format, stream, speed, the SynthesisRequest's ranges).
// Every refusal must be an `APIError` or a `VoxError`; nothing may crash.
// Built only by `make fuzz` (VOXSERVE_FUZZ=1); libFuzzer supplies `main`.
import Foundation
import VoxCore
@testable import VoxServer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    do {
        let body = try SpeechRequestBody.decode(data)
        // SpeechController.validate without the service (model lookup) and the queue.
        let voice = body.voice.flatMap { $0.isEmpty ? nil : $0 }
        if let voice { try RequestVoiceName.validate(voice) }
        let format = try SpeechEncoding.format(named: body.responseFormat)
        _ = SpeechEncoding.canStream(format) && (body.stream ?? false)
        _ = SpeechEncoding.contentType(format)
        if let speed = body.speed, !speed.isFinite { return 0 }
        let request = SynthesisRequest(
            text: body.input, voice: voice, speakerID: body.speakerID, lengthScale: body.lengthScale,
            noiseScale: body.noiseScale, noiseW: body.noiseW, speed: Float(body.speed ?? 1), seed: body.seed)
        try request.validate(maxTextLength: 4096)
        precondition(request.speed >= 0.25 && request.speed <= 4, "validate let an out-of-range speed through")
    } catch is APIError {
    } catch is VoxError {
    } catch {
        fatalError("the speech request path threw something other than an APIError or VoxError: \(error)")
    }
    return 0
}
