import Foundation
import Testing
import VoxAudio
import VoxCore

/// `voxserve speak --voice chatterbox --reference REF` end to end on the tiny Chatterbox-shaped
/// models that scripts/make_chatterbox_test_models.py writes (run by `make test`).
@Suite struct ChatterboxSpeakTests {
    var tinyModel: String {
        get throws {
            let deps = try #require(VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory)
            return deps.appendingPathComponent("test-models/chatterbox-tiny").path
        }
    }

    func reference(_ cli: CLI, _ name: String, text: String) throws -> URL {
        let url = cli.file(name)
        try espeak(text, wordsPerMinute: 120, to: url)
        return url
    }

    @Test func clonesFromAReferenceAndConditionsEachRecordingOnce() async throws {
        let cli = try CLI()
        let env = ["VOXSERVE_CHATTERBOX_DIR": try tinyModel]
        let ref = try reference(cli, "ref.wav", text: "A reference recording for cloning, comfortably longer than five seconds of speech.")
        let out = cli.file("clone.wav")
        let first = try await cli.run(["speak", "Hello from the cloning engine. A second sentence.", "-o", out.path, "--voice", "chatterbox", "--reference", ref.path], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        let audio = try AudioDecoder().decode(contentsOf: out)
        #expect(audio.sampleRate == 24000)
        #expect(audio.duration > 0.2 && audio.isFinite)
        let cache = cli.home.appendingPathComponent("cache")
        let entries = { try FileManager.default.contentsOfDirectory(atPath: cache.path).filter { $0.hasSuffix(".conditioning") } }
        #expect(try entries().count == 1)
        // A new process with the same recording (under another name) reuses the entry.
        let copy = cli.file("copy-of-ref.wav")
        try FileManager.default.copyItem(at: ref, to: copy)
        #expect(try await cli.run(["speak", "Again.", "-o", out.path, "--reference", copy.path], environment: env).status == 0)
        #expect(try entries().count == 1)
        // A different recording is conditioned anew.
        let other = try reference(cli, "other.wav", text: "Another speaker entirely, reading a different sentence for long enough to count.")
        #expect(try await cli.run(["speak", "Again.", "-o", out.path, "--reference", other.path], environment: env).status == 0)
        #expect(try entries().count == 2)
    }

    @Test func aStoredVoiceNameWorksAsTheReference() async throws {
        let cli = try CLI()
        let ref = try reference(cli, "ref.wav", text: "A stored reference voice, long enough to be used for cloning in this test.")
        #expect(try await cli.run(["voices", "add", "narrator", ref.path]).status == 0)
        let result = try await cli.run(
            ["speak", "Stored voice.", "-o", cli.file("s.wav").path, "--reference", "narrator"], environment: ["VOXSERVE_CHATTERBOX_DIR": try tinyModel])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func clearErrorsForAMissingModelAMissingReferenceAndAShortOne() async throws {
        let cli = try CLI()
        let short = try reference(cli, "short.wav", text: "Too short.")
        let noModel = try await cli.run(["speak", "x", "-o", cli.file("x.wav").path, "--reference", short.path], environment: ["VOXSERVE_CHATTERBOX_DIR": "/nonexistent/model"])
        #expect(noModel.status != 0 && noModel.stderr.contains("No Chatterbox model at /nonexistent/model"))
        let noRef = try await cli.run(["speak", "x", "-o", cli.file("x.wav").path, "--voice", "chatterbox"])
        #expect(noRef.status != 0 && noRef.stderr.contains("give --reference"))
        let tooShort = try await cli.run(["speak", "x", "-o", cli.file("x.wav").path, "--reference", short.path], environment: ["VOXSERVE_CHATTERBOX_DIR": try tinyModel])
        #expect(tooShort.status != 0)
        #expect(tooShort.stderr.contains("5"), "\(tooShort.stderr)")
    }
}
