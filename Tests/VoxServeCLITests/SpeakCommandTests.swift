import Foundation
import Testing
import VoxAudio
import VoxCore

/// The five-sentence paragraph of the acceptance check.
let paragraph = """
    VoxServe is a self-hosted text to speech server. It runs Piper voices on your own machine, with no network at all. \
    Doctor Smith measured it on 3 laptops in 2026! Would you believe the first sentence arrives early? \
    The optimizer plans threads, precision and caching for your hardware.
    """

@Suite struct SpeakCommandTests {
    @Test func speaksAFiveSentenceParagraphIntoA22050HzWAVOf15To25Seconds() async throws {
        let cli = try CLI()
        let out = cli.file("paragraph.wav")
        let result = try await cli.run(["speak", paragraph, "-o", out.path])
        #expect(result.status == 0, "\(result.stderr)")
        let audio = try AudioDecoder().decode(contentsOf: out)
        #expect(audio.sampleRate == 22050)
        #expect(audio.duration >= 15 && audio.duration <= 25, "duration \(audio.duration)")
        #expect(audio.isFinite)
        #expect(audio.rms > 0.02, "rms \(audio.rms)")
        #expect(result.stderr.contains("Wrote \(out.path)"))
    }

    @Test(arguments: ["flac", "ogg"])
    func writesTheFormatTheExtensionNames(_ ext: String) async throws {
        let cli = try CLI()
        let out = cli.file("hello.\(ext)")
        let result = try await cli.run(["speak", "Hello there.", "-o", out.path, "--no-optimize"])
        #expect(result.status == 0, "\(result.stderr)")
        let bytes = try Data(contentsOf: out)
        #expect(bytes.starts(with: Array((ext == "flac" ? "fLaC" : "OggS").utf8)))
        let audio = try AudioDecoder().decode(contentsOf: out)
        #expect(audio.duration > 0.3 && !audio.isSilent())
    }

    @Test func readsStandardInputForDash() async throws {
        let cli = try CLI()
        let out = cli.file("stdin.wav")
        let result = try await cli.run(["speak", "-", "-o", out.path], stdin: "Read from standard input.")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try AudioDecoder().decode(contentsOf: out).duration > 0.8)
    }

    @Test func lengthScaleMakesTheFileLonger() async throws {
        let cli = try CLI()
        let normal = cli.file("n.wav"), slow = cli.file("s.wav")
        #expect(try await cli.run(["speak", "The same words twice.", "-o", normal.path, "--noise-w", "0"]).status == 0)
        #expect(try await cli.run(["speak", "The same words twice.", "-o", slow.path, "--noise-w", "0", "--length-scale", "1.5"]).status == 0)
        let a = try AudioDecoder().decode(contentsOf: normal), b = try AudioDecoder().decode(contentsOf: slow)
        #expect(b.duration > a.duration * 1.3)
    }

    @Test func anUnknownVoiceIsOneClearError() async throws {
        let cli = try CLI()
        let result = try await cli.run(["speak", "Hello.", "-o", cli.file("x.wav").path, "--voice", "nobody-here"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("Unknown voice 'nobody-here'"))
        #expect(result.stderr.contains("en_US-joe-medium"))
        #expect(!FileManager.default.fileExists(atPath: cli.file("x.wav").path))
    }

    @Test func anEmptyTextIsOneClearError() async throws {
        let cli = try CLI()
        let direct = try await cli.run(["speak", "   ", "-o", cli.file("x.wav").path])
        #expect(direct.status != 0)
        #expect(direct.stderr.contains("The text is empty"))
        let piped = try await cli.run(["speak", "-", "-o", cli.file("y.wav").path], stdin: "\n\n")
        #expect(piped.status != 0)
        #expect(piped.stderr.contains("The text is empty"))
    }

    @Test func aMissingModelFileIsOneClearError() async throws {
        let cli = try CLI()
        let result = try await cli.run(["speak", "Hello.", "-o", cli.file("x.wav").path, "--voice", "/nonexistent/voice.onnx"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("Model file not found: /nonexistent/voice.onnx"))
    }

    @Test func anUnknownOutputFormatIsRejectedBeforeAnyWork() async throws {
        let cli = try CLI()
        let result = try await cli.run(["speak", "Hello.", "-o", cli.file("x.docx").path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("Cannot tell the audio format"))
    }

    @Test func optimizedAndPlainRunsBothSpeak() async throws {
        let cli = try CLI()
        for (name, flags) in [("opt.wav", [String]()), ("plain.wav", ["--no-optimize"])] {
            let result = try await cli.run(["speak", "Optimizer on and off.", "-o", cli.file(name).path] + flags)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains(flags.isEmpty ? "(optimized)" : "(not optimized)"))
        }
        let env = try await cli.run(["speak", "Off by environment.", "-o", cli.file("env.wav").path], environment: ["VOXSERVE_OPTIMIZE": "0"])
        #expect(env.stderr.contains("(not optimized)"))
    }
}
