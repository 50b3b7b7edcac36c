// libFuzzer target: any bytes given to the audio decoder are refused with a `VoxError`, never a crash.
// Built only by `make fuzz` (VOXSERVE_FUZZ=1); libFuzzer supplies `main`.
import Foundation
import VoxAudio
import VoxCore

/// Small limits keep each run fast: the decoding paths are the same, only less audio is produced.
private let decoder = AudioDecoder(limits: .init(maxBytes: 1 << 20, maxDuration: 30, minDuration: 0.01))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    do {
        let audio = try decoder.decode(data, label: "fuzz.bin")
        // What the decoder promises of the audio it returns.
        precondition(!audio.samples.isEmpty, "decoded audio without samples")
        precondition(audio.samples.allSatisfy { $0.isFinite && abs($0) <= 1 }, "decoded samples outside [-1, 1]")
    } catch is VoxError {
        // A refusal is the expected outcome for almost every input.
    } catch {
        fatalError("AudioDecoder threw something other than a VoxError: \(error)")
    }
    return 0
}
