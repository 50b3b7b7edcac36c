import Foundation
import Testing
import VoxCore
import VoxEngines
import VoxOptimizer
import VoxRuntime

/// A registry over a Piper voice folder and a library in a fresh temporary folder.
private func withRegistry(_ body: (VoiceRegistry, URL) async throws -> Void) async throws {
    try await withTemporaryDirectory { dir in
        let voices = dir.appendingPathComponent("piper")
        try FileManager.default.createDirectory(at: voices, withIntermediateDirectories: true)
        try addPiperVoice("xx_XX-small", to: voices)
        let registry = VoiceRegistry(
            catalog: VoiceCatalog(directories: [(voices, .user)]), library: VoiceLibrary(directory: dir.appendingPathComponent("library")))
        try await body(registry, voices)
    }
}

private func addPiperVoice(_ name: String, to folder: URL) throws {
    let model = folder.appendingPathComponent("\(name).onnx")
    try Data([0]).write(to: model)
    let config = #"{"audio": {"sample_rate": 16000}, "espeak": {"voice": "de"}, "phoneme_id_map": {"_": [0], "^": [1], "$": [2]}}"#
    try Data(config.utf8).write(to: URL(fileURLWithPath: model.path + ".json"))
}

@Suite struct VoiceRegistryTests {
    @Test func aNameResolvesOnceIntoAPiperOrAClonedVoice() async throws {
        try await withRegistry { registry, _ in
            guard case .piper(let piper, let source) = try await registry.resolve("xx_XX-small") else {
                Issue.record("xx_XX-small is a Piper voice")
                return
            }
            #expect(piper.sampleRate == 16000)
            #expect(source == .user)
            try await registry.add(name: "alice", data: wavBytes(seed: 1), originalFileName: "alice.wav", replacing: false)
            guard case .cloned(let alice) = try await registry.resolve("alice") else {
                Issue.record("alice is a cloned voice")
                return
            }
            #expect(alice.sha256 == ConditioningKey.contentDigest(of: wavBytes(seed: 1)))
            #expect(try await registry.reference(of: alice).data == wavBytes(seed: 1))
        }
    }

    @Test func anUnknownNameIsOneErrorListingEveryKnownVoice() async throws {
        try await withRegistry { registry, _ in
            try await registry.add(name: "alice", data: wavBytes(seed: 1), originalFileName: nil, replacing: false)
            let error = await #expect(throws: VoxError.self) { try await registry.resolve("nobody") }
            #expect(error?.kind == .unknownVoice)
            #expect(error?.message.contains("xx_XX-small") == true)
            #expect(error?.message.contains("alice") == true)
        }
    }

    @Test func anAliasStandsForItsVoiceUnlessAVoiceHasThatName() async throws {
        try await withTemporaryDirectory { dir in
            try addPiperVoice("xx_XX-small", to: dir)
            let registry = VoiceRegistry(
                catalog: VoiceCatalog(directories: [(dir, .user)]), library: VoiceLibrary(directory: dir.appendingPathComponent("library")),
                aliases: ["alloy": "xx_XX-small", "echo": "xx_XX-small"])
            #expect(try await registry.resolve("alloy").name == "xx_XX-small")
            #expect(try await registry.resolve("Alloy").name == "xx_XX-small")
            try await registry.add(name: "echo", data: wavBytes(seed: 1), originalFileName: nil, replacing: false)
            #expect(try await registry.resolve("echo") == .cloned(try #require(try await registry.clonedVoices()["echo"])))
        }
        #expect(VoiceRegistry.openAIAliases["alloy"] == VoiceRegistry.defaultVoice)
    }

    @Test func aNameThatCouldBeAPathIsRefusedBeforeAnyLookup() async throws {
        try await withRegistry { registry, _ in
            let error = await #expect(throws: VoxError.self) { try await registry.resolve("../../etc/passwd") }
            #expect(error?.kind == .invalidInput)
        }
    }

    @Test func theCommandLineMayNameAPiperFileByPath() async throws {
        try await withRegistry { registry, folder in
            let path = folder.appendingPathComponent("xx_XX-small.onnx").path
            guard case .piper(_, let source) = try await registry.resolve(nameOrPath: path) else {
                Issue.record("a path names a Piper voice")
                return
            }
            #expect(source == .path)
            let missing = await #expect(throws: VoxError.self) { try await registry.resolve(nameOrPath: "/nonexistent/v.onnx") }
            #expect(missing?.kind == .modelNotFound)
        }
    }

    @Test func addsAndRemovesAreSeenAtOnceAndVoicesDroppedInAreSeenWithoutARestart() async throws {
        try await withRegistry { registry, folder in
            #expect(try await registry.names() == ["xx_XX-small"])
            try await registry.add(name: "bob", data: wavBytes(seed: 2), originalFileName: nil, replacing: false)
            #expect(try await registry.names() == ["xx_XX-small", "bob"])
            try await registry.remove(name: "bob")
            #expect(try await registry.names() == ["xx_XX-small"])
            // Another process (the CLI) adds to the library; a user drops a Piper voice into the folder.
            try await registry.library.add(name: "carol", data: wavBytes(seed: 3))
            try addPiperVoice("yy_YY-other", to: folder)
            #expect(try await registry.names() == ["xx_XX-small", "yy_YY-other", "carol"])
        }
    }

    @Test func anUploadCannotTakeAnInstalledVoicesNameNorRemoveIt() async throws {
        try await withRegistry { registry, _ in
            let taken = await #expect(throws: VoxError.self) {
                try await registry.add(name: "xx_XX-small", data: wavBytes(seed: 1), originalFileName: nil, replacing: false)
            }
            #expect(taken?.kind == .conflict)
            let removal = await #expect(throws: VoxError.self) { try await registry.remove(name: "xx_XX-small") }
            #expect(removal?.kind == .conflict)
            try await registry.add(name: "alice", data: wavBytes(seed: 1), originalFileName: nil, replacing: false)
            let twice = await #expect(throws: VoxError.self) {
                try await registry.add(name: "alice", data: wavBytes(seed: 2), originalFileName: nil, replacing: false)
            }
            #expect(twice?.kind == .conflict)
        }
    }
}
