import Testing
import VoxAudio

@Suite struct AudioFormatTests {
    @Test func namesAreTheOpenAIResponseFormats() {
        #expect(AudioFormat.allCases.map(\.name) == ["wav", "flac", "ogg", "opus", "mp3", "pcm", "aac"])
        for format in AudioFormat.allCases {
            #expect(AudioFormat(name: format.name) == format)
            #expect(AudioFormat(name: format.name.uppercased()) == format)
        }
        #expect(AudioFormat(name: "m4a") == nil)
        #expect(AudioFormat(name: "") == nil)
    }

    @Test func mimeTypes() {
        #expect(AudioFormat.wav.mimeType == "audio/wav")
        #expect(AudioFormat.flac.mimeType == "audio/flac")
        #expect(AudioFormat.ogg.mimeType == "audio/ogg")
        #expect(AudioFormat.opus.mimeType == "audio/opus")
        #expect(AudioFormat.mp3.mimeType == "audio/mpeg")
        #expect(AudioFormat.pcm.mimeType == "audio/pcm")
        #expect(AudioFormat.aac.mimeType == "audio/aac")
    }

    @Test func fileExtensionsWithOrWithoutDotAndInAnyCase() {
        #expect(AudioFormat(fileExtension: "wav") == .wav)
        #expect(AudioFormat(fileExtension: ".WAV") == .wav)
        #expect(AudioFormat(fileExtension: "wave") == .wav)
        #expect(AudioFormat(fileExtension: "flac") == .flac)
        #expect(AudioFormat(fileExtension: "ogg") == .ogg)
        #expect(AudioFormat(fileExtension: "oga") == .ogg)
        #expect(AudioFormat(fileExtension: "Opus") == .opus)
        #expect(AudioFormat(fileExtension: "mp3") == .mp3)
        #expect(AudioFormat(fileExtension: "raw") == .pcm)
        #expect(AudioFormat(fileExtension: "pcm") == .pcm)
        #expect(AudioFormat(fileExtension: "m4a") == nil)
        #expect(AudioFormat(fileExtension: "") == nil)
    }
}
