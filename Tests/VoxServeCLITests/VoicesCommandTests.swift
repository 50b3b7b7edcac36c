import Foundation
import Testing
import VoxAudio
import VoxCore

/// Parses `voxserve voices similarity --json` output.
private struct SimilarityResult: Decodable {
    var cosine: Float
    var cache: [String]
}

private func similarity(_ cli: CLI, _ a: String, _ b: String) async throws -> SimilarityResult {
    let result = try await cli.run(["voices", "similarity", a, b, "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    return try JSONDecoder().decode(SimilarityResult.self, from: Data(result.stdout.utf8))
}

@Suite struct VoiceLibraryCommandTests {
    @Test func listsTheDefaultVoice() async throws {
        let cli = try CLI()
        let result = try await cli.run(["voices", "list"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("en_US-joe-medium"))
        #expect(result.stdout.contains("22050 Hz"))
        let json = try await cli.run(["voices", "list", "--json"])
        let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let voices = decoded?["voices"] as? [[String: Any]]
        #expect(voices?.contains { $0["name"] as? String == "en_US-joe-medium" } == true)
    }

    @Test func addStoresByContentAndRemoveForgetsTheName() async throws {
        let cli = try CLI()
        let a = cli.file("a.wav"), elsewhere = cli.file("sub/a.wav")
        try espeak("A reference recording for the library.", voice: "en-us", to: a)
        try FileManager.default.createDirectory(at: elsewhere.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: a, to: elsewhere)
        #expect(try await cli.run(["voices", "add", "first", a.path]).status == 0)
        #expect(try await cli.run(["voices", "add", "second", elsewhere.path]).status == 0)
        let stored = try FileManager.default.contentsOfDirectory(atPath: cli.home.appendingPathComponent("voices/references").path)
        #expect(stored.count == 1, "the same content twice is one stored file")
        let list = try await cli.run(["voices", "list"]).stdout
        #expect(list.contains("first") && list.contains("second"))
        #expect(try await cli.run(["voices", "remove", "first"]).status == 0)
        let again = try await cli.run(["voices", "remove", "first"])
        #expect(again.status != 0 && again.stderr.contains("Unknown voice 'first'"))
    }

    @Test(arguments: ["../escape", "a/b", ".hidden", String(repeating: "x", count: 65)])
    func hostileNamesNeverBecomePaths(_ name: String) async throws {
        let cli = try CLI()
        let a = cli.file("a.wav")
        try espeak("Hostile names.", voice: "en-us", to: a)
        let result = try await cli.run(["voices", "add", name, a.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("not a valid voice name"))
        #expect(!FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("voices/index.json").path))
    }

    @Test func nonAudioIsRefusedWithAClearError() async throws {
        let cli = try CLI()
        let text = cli.file("notes.wav")
        try Data("just some text, not audio".utf8).write(to: text)
        let result = try await cli.run(["voices", "add", "notes", text.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("not audio"))
    }
}

@Suite struct SpeakerSimilarityTests {
    /// Issue 3: the encoder tells speakers apart, end to end: two different sentences spoken by
    /// the joe voice are closer than joe and an espeak-ng voice saying the same words.
    @Test func twoJoeSentencesScoreHigherThanJoeAgainstEspeak() async throws {
        let cli = try CLI()
        let joe1 = cli.file("joe1.wav"), joe2 = cli.file("joe2.wav"), robot = cli.file("espeak.wav")
        let second = "A second and different sentence, from the same voice, a little longer than the first one."
        #expect(try await cli.run(["speak", "This is the first sentence from joe, spoken to test the speaker encoder.", "-o", joe1.path, "--no-optimize"]).status == 0)
        #expect(try await cli.run(["speak", second, "-o", joe2.path, "--no-optimize"]).status == 0)
        try espeak(second, voice: "en-us", to: robot)
        let same = try await similarity(cli, joe1.path, joe2.path)
        let different = try await similarity(cli, joe1.path, robot.path)
        #expect(same.cosine > 0.85)
        #expect(same.cosine - different.cosine > 0.2, "same \(same.cosine) vs different \(different.cosine)")
    }

    /// The cache is keyed by content, and its entries outlive the process that wrote them.
    @Test func embeddingsAreCachedByContentAcrossProcesses() async throws {
        let cli = try CLI()
        let a = cli.file("a.wav"), b = cli.file("b.wav")
        try espeak("The first recording, long enough to embed.", voice: "en-us", to: a)
        try espeak("The second recording, a different speaker.", voice: "en-us+f3", to: b)
        #expect(try await similarity(cli, a.path, b.path).cache == ["miss", "miss"])
        // A new process: both come from disk.
        #expect(try await similarity(cli, a.path, b.path).cache == ["disk_hit", "disk_hit"])
        // The same content under another name and folder is a hit.
        let copy = cli.file("elsewhere/renamed.wav")
        try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: a, to: copy)
        #expect(try await similarity(cli, copy.path, b.path).cache == ["disk_hit", "disk_hit"])
        // Same name, same size, different content: recomputed.
        var bytes = try Data(contentsOf: a)
        let size = bytes.count
        for i in stride(from: 100, to: bytes.count, by: 2) { bytes[i] = bytes[i] &+ 7 }
        try bytes.write(to: a)
        #expect(try Data(contentsOf: a).count == size)
        #expect(try await similarity(cli, a.path, b.path).cache == ["miss", "disk_hit"])
    }
}

@Suite struct ServeOptionsTests {
    @Test(arguments: [["--wyoming-zeroconf"], ["--wyoming-host", "0.0.0.0"], ["--wyoming-port", "70000"], ["--port", "9000", "--wyoming-port", "9000"]])
    func wyomingOptionsThatCannotWorkAreRefusedBeforeAnythingStarts(_ arguments: [String]) async throws {
        let result = try await CLI().run(["serve"] + arguments)
        #expect(result.status != 0)
        #expect(result.stderr.contains("--wyoming-port"), "\(result.stderr)")
    }
}
