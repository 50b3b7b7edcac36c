import Foundation
import Testing
import VoxCore
import VoxOptimizer
import VoxRuntime

@Suite("VoiceLibrary")
struct VoiceLibraryTests {
    static let hostileNames = [
        "../etc/passwd", "a/b", "/abs", "", ".hidden", ".", "..", "a..b", String(repeating: "a", count: 65),
        "with space", "naïve", "a\\b", "a\u{0}b", "tab\t", "~root", "%2e%2e", "new\nline", "ａｂｃ",
    ]

    @Test(arguments: hostileNames)
    func aHostileNameIsRejectedBeforeAnythingIsWritten(_ name: String) async throws {
        try await withTemporaryDirectory { dir in
            let voices = dir.appendingPathComponent("voices")
            let library = VoiceLibrary(directory: voices)
            #expect(!VoiceLibrary.isValidName(name))
            let error = await #expect(throws: VoxError.self) { try await library.add(name: name, data: wavBytes(seed: 1)) }
            #expect(error?.kind == .invalidInput)
            #expect(!FileManager.default.fileExists(atPath: voices.path))
            await #expect(throws: VoxError.self) { try await library.remove(name: name) }
        }
    }

    @Test(arguments: ["alice", "Bob_2", "en-US.joe", "a", "x.y-z_0", String(repeating: "a", count: 64)])
    func anOrdinaryNameIsAccepted(_ name: String) async throws {
        try await withTemporaryDirectory { dir in
            let library = VoiceLibrary(directory: dir)
            let entry = try await library.add(name: name, data: wavBytes(seed: 1))
            #expect(entry.name == name)
            #expect(try await library.list().map(\.name) == [name])
        }
    }

    @Test func aReferenceIsStoredUnderItsContentHashAndOnlyItsBaseNameIsKept() async throws {
        try await withTemporaryDirectory { dir in
            let source = dir.appendingPathComponent("recordings/take 3/alice.wav")
            try FileManager.default.createDirectory(at: source.deletingLastPathComponent(), withIntermediateDirectories: true)
            let data = wavBytes(seed: 9)
            try data.write(to: source)

            let library = VoiceLibrary(directory: dir.appendingPathComponent("voices"))
            let entry = try await library.add(name: "alice", file: source)
            #expect(entry.sha256 == ConditioningKey(referenceData: data, engine: "any", modelFingerprint: "any").referenceSHA256)
            #expect(entry.format == .wav)
            #expect(entry.byteCount == data.count)
            #expect(entry.originalFileName == "alice.wav")
            let stored = library.referenceURL(for: entry)
            #expect(stored.lastPathComponent == "\(entry.sha256).wav")
            #expect(stored.deletingLastPathComponent().lastPathComponent == "references")
            #expect(try Data(contentsOf: stored) == data)

            let reference = try await library.reference(named: "alice")
            #expect(reference.data == data)
            #expect(reference.label == "alice")
        }
    }

    @Test func theSameContentUnderTwoNamesIsOneFileUntilBothAreRemoved() async throws {
        try await withTemporaryDirectory { dir in
            let library = VoiceLibrary(directory: dir)
            let data = wavBytes(seed: 2)
            let a = try await library.add(name: "a", data: data)
            let b = try await library.add(name: "b", data: data)
            #expect(a.sha256 == b.sha256)
            #expect(try FileManager.default.contentsOfDirectory(atPath: library.referencesDirectory.path) == [a.fileName])

            let removed = try await library.remove(name: "a")
            #expect(removed.name == "a")
            #expect(FileManager.default.fileExists(atPath: library.referenceURL(for: b).path), "b still uses the file")
            #expect(try await library.list().map(\.name) == ["b"])

            try await library.remove(name: "b")
            #expect(try FileManager.default.contentsOfDirectory(atPath: library.referencesDirectory.path).isEmpty)
            #expect(try await library.list().isEmpty)
        }
    }

    @Test func addingAnExistingNameIsAnErrorUnlessReplacing() async throws {
        try await withTemporaryDirectory { dir in
            let library = VoiceLibrary(directory: dir)
            let old = try await library.add(name: "alice", data: wavBytes(seed: 1))

            // the same content again changes nothing
            #expect(try await library.add(name: "alice", data: wavBytes(seed: 1)) == old)

            let error = await #expect(throws: VoxError.self) { try await library.add(name: "alice", data: wavBytes(seed: 2)) }
            #expect(error?.kind == .invalidInput)
            #expect(error?.message.contains("already exists") == true)
            #expect(try await library.entry(named: "alice") == old)

            let new = try await library.add(name: "alice", data: wavBytes(seed: 2), replacing: true)
            #expect(new.sha256 != old.sha256)
            #expect(try await library.entry(named: "alice") == new)
            #expect(!FileManager.default.fileExists(atPath: library.referenceURL(for: old).path), "the unused old reference is deleted")
            #expect(try FileManager.default.contentsOfDirectory(atPath: library.referencesDirectory.path) == [new.fileName])
        }
    }

    @Test func replacingKeepsAReferenceThatAnotherNameStillUses() async throws {
        try await withTemporaryDirectory { dir in
            let library = VoiceLibrary(directory: dir)
            let shared = try await library.add(name: "alice", data: wavBytes(seed: 1))
            try await library.add(name: "carol", data: wavBytes(seed: 1))
            try await library.add(name: "alice", data: wavBytes(seed: 2), replacing: true)
            #expect(FileManager.default.fileExists(atPath: library.referenceURL(for: shared).path))
            #expect(try await library.reference(named: "carol").data == wavBytes(seed: 1))
        }
    }

    @Test func unknownNamesGiveAnUnknownVoiceErrorListingTheKnownOnes() async throws {
        try await withTemporaryDirectory { dir in
            let library = VoiceLibrary(directory: dir)
            let empty = await #expect(throws: VoxError.self) { try await library.remove(name: "ghost") }
            #expect(empty?.kind == .unknownVoice)

            try await library.add(name: "alice", data: wavBytes(seed: 1))
            for operation in ["remove", "entry", "reference"] {
                let error = await #expect(throws: VoxError.self) {
                    switch operation {
                    case "remove": try await library.remove(name: "ghost")
                    case "entry": _ = try await library.entry(named: "ghost")
                    default: _ = try await library.reference(named: "ghost")
                    }
                }
                #expect(error?.kind == .unknownVoice, "\(operation)")
                #expect(error?.message.contains("alice") == true, "\(operation)")
            }
        }
    }

    @Test func whatIsNotAudioIsRejected() async throws {
        try await withTemporaryDirectory { dir in
            let library = VoiceLibrary(directory: dir)
            for data in [Data(), Data("hello, this is text".utf8), Data([0xFF, 0xF1, 0x50, 0x80])] {
                let error = await #expect(throws: VoxError.self) { try await library.add(name: "x", data: data) }
                #expect(error?.kind == .invalidAudio)
            }
            let missing = await #expect(throws: VoxError.self) {
                try await library.add(name: "x", file: dir.appendingPathComponent("nope.wav"))
            }
            #expect(missing?.kind == .io)
            let listed = try await library.list()
            #expect(listed.isEmpty)
        }
    }

    @Test func formatsAreRecognisedByTheirFirstBytes() {
        func bytes(_ ascii: String, _ extra: [UInt8] = []) -> Data { Data(Array(ascii.utf8) + extra) }
        #expect(VoiceReferenceFormat.detect(wavBytes(seed: 1)) == .wav)
        #expect(VoiceReferenceFormat.detect(bytes("fLaC\0\0\0\"")) == .flac)
        #expect(VoiceReferenceFormat.detect(bytes("OggS\0\u{2}")) == .ogg)
        #expect(VoiceReferenceFormat.detect(bytes("ID3\u{4}\0")) == .mp3)
        #expect(VoiceReferenceFormat.detect(Data([0xFF, 0xFB, 0x90, 0x64])) == .mp3)
        #expect(VoiceReferenceFormat.detect(bytes("FORM\0\0\0\0AIFF")) == .aiff)
        #expect(VoiceReferenceFormat.detect(bytes("RIFF\0\0\0\0AVI ")) == nil)
        #expect(VoiceReferenceFormat.detect(Data([0xFF, 0xF1])) == nil)  // AAC ADTS, not MP3
    }

    @Test func theIndexSurvivesANewInstance() async throws {
        try await withTemporaryDirectory { dir in
            let first = VoiceLibrary(directory: dir)
            let alice = try await first.add(name: "alice", data: wavBytes(seed: 1), originalFileName: "alice.wav")
            let bob = try await first.add(name: "bob", data: wavBytes(seed: 2))

            let second = VoiceLibrary(directory: dir)
            #expect(try await second.list() == [alice, bob])
            #expect(try await second.reference(named: "bob").data == wavBytes(seed: 2))
            let index = try String(contentsOf: second.indexURL, encoding: .utf8)
            #expect(index.contains("\"alice\"") && index.contains(alice.sha256))
        }
    }

    @Test func aReferenceChangedOnDiskIsReportedNotServed() async throws {
        try await withTemporaryDirectory { dir in
            let library = VoiceLibrary(directory: dir)
            let entry = try await library.add(name: "alice", data: wavBytes(seed: 1))
            try wavBytes(seed: 2).write(to: library.referenceURL(for: entry))
            let error = await #expect(throws: VoxError.self) { try await library.reference(named: "alice") }
            #expect(error?.kind == .gone)
            #expect(error?.message.contains(dir.path) == false, "the message names no path; the detail does")
        }
    }

    @Test func concurrentAddsThroughTwoInstancesAllLand() async throws {
        try await withTemporaryDirectory { dir in
            // Two instances are two actors with separate locks' file descriptors, as two processes would have.
            let libraries = [VoiceLibrary(directory: dir), VoiceLibrary(directory: dir)]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<16 {
                    group.addTask { try await libraries[i % 2].add(name: "voice-\(i)", data: wavBytes(seed: UInt8(i % 4))) }
                }
                try await group.waitForAll()
            }
            let names = try await libraries[0].list().map(\.name)
            #expect(names == (0..<16).map { "voice-\($0)" }.sorted())
            #expect(try FileManager.default.contentsOfDirectory(atPath: libraries[0].referencesDirectory.path).count == 4)
        }
    }

    @Test func aDamagedIndexIsRecoveredFromItsBackupAndKeptAside() async throws {
        try await withTemporaryDirectory { dir in
            let library = VoiceLibrary(directory: dir)
            try await library.add(name: "alice", data: wavBytes(seed: 1))
            try Data("{ not json".utf8).write(to: library.indexURL)
            #expect(try await library.list().map(\.name) == ["alice"])
            #expect(try String(contentsOf: library.indexURL, encoding: .utf8).contains("\"alice\""))
            let aside = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("index.json.unreadable-") }
            #expect(aside.count == 1)
            #expect(try String(contentsOf: dir.appendingPathComponent(aside[0]), encoding: .utf8) == "{ not json")

            // An entry that would name a path makes the index unreadable: it is never followed, and
            // the library falls back to the backup (which has alice) rather than to the bad entry.
            try Data(#"{"version":1,"voices":{"evil":{"sha256":"../../x","format":"wav","byteCount":1,"addedAt":"2026-01-01T00:00:00Z"}}}"#.utf8)
                .write(to: library.indexURL)
            await #expect(throws: VoxError.self) { try await library.remove(name: "evil") }
            #expect(try await library.list().map(\.name) == ["alice"])
        }
    }

    @Test func anIndexWithoutAReadableBackupIsRebuiltFromTheRecordings() async throws {
        try await withTemporaryDirectory { dir in
            let library = VoiceLibrary(directory: dir)
            let alice = try await library.add(name: "alice", data: wavBytes(seed: 1))
            try Data("{".utf8).write(to: library.indexURL)
            try Data("{".utf8).write(to: library.indexURL.appendingPathExtension("bak"))
            let voices = try await library.list()
            #expect(voices.map(\.name) == ["recovered-\(alice.sha256.prefix(12))"])
            #expect(voices.first?.sha256 == alice.sha256)
            #expect(try await library.reference(named: voices[0].name).data == wavBytes(seed: 1))
        }
    }
}
