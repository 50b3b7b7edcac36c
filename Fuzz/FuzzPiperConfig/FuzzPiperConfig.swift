// libFuzzer target: a Piper voice's `.onnx.json` config. Any bytes parse into a voice or are
// refused with a `VoxError`; a parsed voice answers phoneme ids, speaker names and speaker ids,
// and audio at its sample rate can be encoded (what the server does with the engine's output).
// Built only by `make fuzz` (VOXSERVE_FUZZ=1); libFuzzer supplies `main`.
import Foundation
import VoxAudio
import VoxCore
@testable import VoxEngines

private let modelURL = URL(fileURLWithPath: "/fuzz/voice.onnx")
private let configURL = URL(fileURLWithPath: "/fuzz/voice.onnx.json")
/// A sentence of ordinary phonemes, stress marks, a combining mark, and characters no map has.
private let phonemes = ["həlˈoʊ wˈɜːld.", "", "ɪ̃ ^_$ \u{0}", "日本語 🎙"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    let voice: PiperVoice
    do {
        voice = try PiperVoice.parse(config: data, modelURL: modelURL, configURL: configURL)
    } catch is VoxError {
        return 0
    } catch {
        fatalError("PiperVoice.parse threw something other than a VoxError: \(error)")
    }
    precondition(voice.sampleRate > 0 && voice.numSpeakers >= 1, "parse accepted an impossible voice")
    // ^ _ (each phoneme, then _) $: a map may hold empty id lists, so only the count is certain.
    let map = voice.phonemeIDMap
    let frame = map["^"]!.count + map["_"]!.count + map["$"]!.count
    for text in phonemes {
        let (ids, missing) = voice.phonemeIDs(for: text)
        let found = text.unicodeScalars.compactMap { map[String($0)] }
        precondition(ids.count == frame + found.reduce(0) { $0 + $1.count + map["_"]!.count }, "phoneme ids miscounted")
        precondition(missing.allSatisfy { map[$0] == nil }, "a mapped phoneme reported missing")
    }
    let names = voice.speakerNames
    precondition(names.isEmpty || names.count == voice.numSpeakers, "speaker names do not match the speaker count")
    for id in [nil, 0, 1, voice.numSpeakers - 1, voice.numSpeakers, -1, Int.max] {
        _ = try? voice.speakerID(id)
    }
    _ = voice.about.summary
    // The engine's audio comes out at the config's rate and is sent as WAV (or PCM) from there.
    let audio = AudioBuffer(samples: [0, 0.5, -0.5, 0], sampleRate: voice.sampleRate)
    do {
        _ = try AudioEncoder().encode(audio, as: .wav)
    } catch is VoxError {
    } catch {
        fatalError("AudioEncoder threw something other than a VoxError: \(error)")
    }
    return 0
}
