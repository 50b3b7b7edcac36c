import Foundation
import Testing
import VoxCore
@testable import VoxEngines

/// Piper configs that `make fuzz` (Fuzz/FuzzPiperConfig) found to crash the process, minimised.
/// Each must now be refused when the voice is loaded, with an error that names the field.
@Suite struct PiperVoiceFuzzRegressionTests {
    private func parse(_ config: String) throws -> PiperVoice {
        try PiperVoice.parse(
            config: Data(config.utf8), modelURL: URL(fileURLWithPath: "/voices/fuzz.onnx"),
            configURL: URL(fileURLWithPath: "/voices/fuzz.onnx.json"))
    }

    private func expectRefusal(_ config: String, mentions fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let error = try #require(throws: VoxError.self, sourceLocation: sourceLocation) { try parse(config) }
        #expect(error.kind == .invalidModel, sourceLocation: sourceLocation)
        #expect(error.message.contains("fuzz.onnx.json"), "\(error.message)", sourceLocation: sourceLocation)
        #expect(error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
    }

    /// 314 million speakers: `speakerNames` (the voice list) built 314 million strings and ran out
    /// of memory; 3.2e20 wrapped through `NSNumber.intValue` and asked for more than the address space.
    @Test func anAbsurdSpeakerCountIsRefused() throws {
        for count in ["314474416", "318446744073709551616", "1e300", "10001"] {
            try expectRefusal(
                #"{"audio":{"sample_rate":22050},"num_speakers": \#(count),"phoneme_id_map":{"_":[],"^":[],"$":[]}}"#,
                mentions: "num_speakers")
        }
    }

    /// A rate beyond 32 bits trapped in the WAV encoder on every request for the voice; one that
    /// wraps through `NSNumber.intValue` (2^64 + 22050) must not pass for 22050 Hz.
    @Test func aSampleRateOutsideTheDecodersRangeIsRefused() throws {
        for rate in ["2205016000", "6", "0", "-22050", "22050.5", "18446744073709573666", "1e300", "true"] {
            try expectRefusal(
                #"{"audio":{"sample_rate":\#(rate)},"phoneme_id_map":{"_":[],"^":[],"$":[]}}"#,
                mentions: "audio.sample_rate")
        }
    }

    @Test func realSpeakerCountsAndRatesStillLoad() throws {
        let many = try parse(#"{"audio":{"sample_rate":22050},"num_speakers":904,"phoneme_id_map":{"_":[0],"^":[1],"$":[2]}}"#)
        #expect(many.numSpeakers == 904)
        #expect(many.speakerNames.count == 904)
        for (count, expected) in [("0", 1), ("-3", 1), ("1", 1), ("2.0", 2)] {
            let voice = try parse(#"{"audio":{"sample_rate":16000},"num_speakers":\#(count),"phoneme_id_map":{"_":[0],"^":[1],"$":[2]}}"#)
            #expect(voice.numSpeakers == expected, "num_speakers \(count)")
            #expect(voice.sampleRate == 16000)
        }
    }
}
