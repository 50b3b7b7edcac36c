import Foundation
import Testing
import VoxCore
@testable import VoxEngines

/// A voice config written to a temp folder, with a model file that only needs to exist.
private func makeVoice(config: String, name: String = "test-voice") throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("piper-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let model = dir.appendingPathComponent("\(name).onnx")
    try Data([0]).write(to: model)
    try Data(config.utf8).write(to: URL(fileURLWithPath: model.path + ".json"))
    return model
}

private let smallConfig = """
{"audio": {"sample_rate": 16000}, "espeak": {"voice": "de"},
 "inference": {"noise_scale": 0.5, "length_scale": 1.1, "noise_w": 0.7},
 "num_speakers": 3, "speaker_id_map": {"anna": 0, "ben": 1, "cleo": 2},
 "phoneme_id_map": {"_": [0], "^": [1], "$": [2], " ": [3], "a": [14], "b": [15], "ˈ": [120], "ɪ": [74], "̃": [141, 142]}}
"""

@Suite struct PiperVoiceTests {
    @Test func parsesTheConfigFields() throws {
        let voice = try PiperVoice.load(modelURL: try makeVoice(config: smallConfig))
        #expect(voice.name == "test-voice")
        #expect(voice.sampleRate == 16000)
        #expect(voice.espeakVoice == "de")
        #expect(voice.inference == .init(noiseScale: 0.5, lengthScale: 1.1, noiseW: 0.7))
        #expect(voice.numSpeakers == 3)
        #expect(voice.speakerIDMap["ben"] == 1)
    }

    @Test func speakersAreNamedInIdOrderAndTheVoiceDescribesItself() throws {
        let voice = try PiperVoice.load(modelURL: try makeVoice(config: smallConfig))
        #expect(voice.speakerNames == ["anna", "ben", "cleo"])
        #expect(voice.about == .init())
        let unnamed = try PiperVoice.load(modelURL: try makeVoice(config: smallConfig.replacingOccurrences(of: #""speaker_id_map": {"anna": 0, "ben": 1, "cleo": 2},"#, with: "")))
        #expect(unnamed.speakerNames == ["0", "1", "2"])
        let joe = try defaultVoice()
        #expect(joe.speakerNames == [])
        #expect(joe.about.summary == "English (United States), dataset joe, medium quality")
        #expect(joe.about.piperVersion == "1.0.0")
    }

    @Test func idsArePadBosEachPhonemeFollowedByPadThenEos() throws {
        let voice = try PiperVoice.load(modelURL: try makeVoice(config: smallConfig))
        let (ids, missing) = voice.phonemeIDs(for: "ˈab a")
        #expect(ids == [1, 0, 120, 0, 14, 0, 15, 0, 3, 0, 14, 0, 2])
        #expect(missing.isEmpty)
    }

    @Test func unknownPhonemesAreSkippedAndReported() throws {
        let voice = try PiperVoice.load(modelURL: try makeVoice(config: smallConfig))
        let (ids, missing) = voice.phonemeIDs(for: "aZb")
        #expect(ids == [1, 0, 14, 0, 15, 0, 2])
        #expect(missing == ["Z"])
    }

    @Test func phonemesAreUnicodeScalarsSoCombiningMarksMapAlone() throws {
        // "ɪ̃" is one Character but two scalars; piper maps each code point, and a
        // phoneme may map to several ids.
        let voice = try PiperVoice.load(modelURL: try makeVoice(config: smallConfig))
        #expect(voice.phonemeIDs(for: "ɪ̃").ids == [1, 0, 74, 0, 141, 142, 0, 2])
    }

    @Test func speakerOutOfRangeIsAClearError() throws {
        let voice = try PiperVoice.load(modelURL: try makeVoice(config: smallConfig))
        #expect(try voice.speakerID(2) == 2)
        #expect(throws: VoxError.self) { try voice.speakerID(3) }
    }

    @Test func missingModelFileIsModelNotFound() {
        let error = #expect(throws: VoxError.self) {
            try PiperVoice.load(modelURL: URL(fileURLWithPath: "/nonexistent/voice.onnx"))
        }
        #expect(error?.kind == .modelNotFound)
    }

    @Test func missingOrBrokenConfigIsInvalidModel() throws {
        let model = try makeVoice(config: "{ not json")
        #expect(throws: VoxError.self) { try PiperVoice.load(modelURL: model) }
        let noMap = try makeVoice(config: #"{"audio": {"sample_rate": 22050}}"#)
        let error = #expect(throws: VoxError.self) { try PiperVoice.load(modelURL: noMap) }
        #expect(error?.kind == .invalidModel)
        #expect(error?.message.contains("phoneme_id_map") == true)
        try FileManager.default.removeItem(at: URL(fileURLWithPath: model.path + ".json"))
        #expect((#expect(throws: VoxError.self) { try PiperVoice.load(modelURL: model) })?.kind == .invalidModel)
    }

    @Test func catalogListsTheVoicesOnDiskWithTheirSource() throws {
        let model = try makeVoice(config: smallConfig, name: "xx_XX-small")
        let catalog = VoiceCatalog(directories: [(model.deletingLastPathComponent(), .user)])
        #expect(catalog.list().map(\.name) == ["xx_XX-small"])
        #expect(catalog.list().map(\.source) == [.user])
        #expect(catalog.voices().map(\.voice.modelURL) == [model])
    }
}
