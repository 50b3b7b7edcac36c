import ArgumentParser
import Foundation
import VoxAudio
import VoxCore
import VoxEngines
import VoxOptimizer
import VoxPhonemizer
import VoxRuntime

struct SpeakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speak",
        abstract: "Speak TEXT (or standard input with '-') into an audio file.",
        discussion: "The format follows the output's extension: .wav, .flac, .ogg, .opus, .mp3 or .pcm."
    )

    @Argument(help: "The text to speak, or '-' to read it from standard input.")
    var text: String

    @Option(name: .shortAndLong, help: "The audio file to write.")
    var output: String

    @Option(help: "A voice name from `voxserve voices list`, the path of a Piper .onnx file, or 'chatterbox' for voice cloning.")
    var voice: String?

    @Option(help: "Clone this voice (Chatterbox): an audio file, or a reference stored with `voxserve voices add`.")
    var reference: String?

    @Option(help: "Speaker id of a multi-speaker voice.")
    var speaker: Int?

    @Option(name: .customLong("length-scale"), help: "Phoneme length: larger is slower (voice default).")
    var lengthScale: Float?

    @Option(name: .customLong("noise-scale"), help: "Generator noise (voice default).")
    var noiseScale: Float?

    @Option(name: .customLong("noise-w"), help: "Phoneme width noise (voice default).")
    var noiseW: Float?

    @Option(help: "Speaking rate, 0.25 to 4.")
    var speed: Float = 1

    @OptionGroup var engine: EngineOptions

    @Flag(help: .hidden) var timings = false

    var format: AudioFormat? {
        AudioFormat(fileExtension: URL(fileURLWithPath: output).pathExtension)
    }

    func validate() throws {
        guard format != nil else {
            throw ValidationError("Cannot tell the audio format of '\(output)': use .wav, .flac, .ogg, .opus, .mp3 or .pcm.")
        }
        if text != "-" && text.allSatisfy({ $0.isWhitespace }) {
            throw ValidationError("The text is empty: give at least one word to speak, or '-' to read standard input.")
        }
        try request(text: text == "-" ? "x" : text).validate()
        if cloning && reference == nil {
            throw ValidationError("Chatterbox clones a voice: give --reference with an audio file or a stored voice name.")
        }
    }

    /// Chatterbox when asked for by name or when a reference is given.
    var cloning: Bool {
        reference != nil || voice.map { ["chatterbox", "chatterbox-turbo"].contains($0) } == true
    }

    func request(text: String) -> SynthesisRequest {
        SynthesisRequest(text: text, voice: voice, speakerID: speaker, lengthScale: lengthScale, noiseScale: noiseScale, noiseW: noiseW, speed: speed)
    }

    /// A stored reference voice by name, else an audio file.
    func loadReference(_ value: String, registry: VoiceRegistry) async throws -> VoiceReference {
        if VoiceName.isValid(value), case .cloned(let stored)? = try? await registry.resolve(value) {
            return try await registry.reference(of: stored)
        }
        guard FileManager.default.fileExists(atPath: value) else {
            throw VoxError.invalidInput("The reference '\(value)' is neither a stored voice nor an audio file.")
        }
        return try VoiceReference(contentsOf: URL(fileURLWithPath: value))
    }

    func run() async throws {
        VoxServeCommand.bootstrapLogging(verbose: engine.verbose)
        let clock = ContinuousClock()
        let start = clock.now
        let spoken = text == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : text
        var request = request(text: spoken)
        try request.validate()

        let configuration = engine.configuration(warmUp: false)
        let factory = SynthesizerFactory(configuration: configuration, phonemizer: EspeakPhonemizer.shared)
        let registry = VoiceRegistry(paths: configuration.paths)
        let synthesizer: any SpeechSynthesizer
        if cloning {
            guard let reference else { throw VoxError.invalidInput("Chatterbox needs --reference.") }
            request.reference = try await loadReference(reference, registry: registry)
            request.voice = nil
            synthesizer = try await factory.chatterbox()
        } else {
            switch try await registry.resolve(nameOrPath: voice) {
            case .piper(let piper, _):
                synthesizer = try await factory.piper(piper)
            case .cloned(let stored):
                // A stored reference named as the voice: clone it.
                request.reference = try await registry.reference(of: stored)
                request.voice = nil
                synthesizer = try await factory.chatterbox()
            }
        }
        let ready = clock.now
        var audio = AudioBuffer(samples: [], sampleRate: synthesizer.info.sampleRate)
        var firstAudio: ContinuousClock.Instant?
        for try await chunk in synthesizer.stream(request) {
            if firstAudio == nil { firstAudio = clock.now }
            if audio.samples.isEmpty { audio.sampleRate = chunk.audio.sampleRate }
            audio.append(chunk.audio)
        }
        let url = URL(fileURLWithPath: output)
        try AudioEncoder().write(audio, to: url, as: format)

        let seconds = (clock.now - start).seconds
        if timings {
            // For `voxserve bench`: seconds since this command started.
            let report = SpeakTimings(
                engineReady: (ready - start).seconds, firstAudio: ((firstAudio ?? clock.now) - start).seconds, total: seconds,
                audioSeconds: audio.duration, optimized: configuration.optimize)
            print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
        }
        let line = String(
            format: "Wrote %@: %.1f s of audio at %d Hz in %.2f s (%@).\n", url.path, audio.duration, audio.sampleRate, seconds,
            configuration.optimize ? "optimized" : "not optimized")
        FileHandle.standardError.write(Data(line.utf8))
    }
}
