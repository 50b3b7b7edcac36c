import ArgumentParser
import Foundation
import VoxAudio
import VoxCore
import VoxEngines
import VoxOptimizer
import VoxRuntime

struct VoicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voices",
        abstract: "List and manage voices: installed Piper voices and reference recordings for cloning.",
        subcommands: [List.self, Add.self, Remove.self, Similarity.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the installed voices and the stored references.")

        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            VoxServeCommand.bootstrapLogging(verbose: false)
            let paths = VoxServeCommand.environmentConfiguration().paths
            let voices = VoiceCatalog(paths: paths).list()
            let references = try await VoiceLibrary(paths: paths).list()
            if json {
                struct Listing: Encodable { var voices: [VoiceEntry]; var references: [LibraryVoice] }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(Listing(voices: voices, references: references)), as: UTF8.self))
                return
            }
            if voices.isEmpty {
                print("No voices found. Run `make setup`, or put a Piper voice (NAME.onnx + NAME.onnx.json) in \(paths.voicesDirectory.path).")
            }
            let width = max(voices.map(\.name.count).max() ?? 4, references.map(\.name.count).max() ?? 4)
            for v in voices {
                let name = v.name.padding(toLength: width, withPad: " ", startingAt: 0)
                print("\(name)  \(v.engine)  \(v.sampleRate) Hz  \(v.speakers) speaker\(v.speakers == 1 ? "" : "s")  \(v.language ?? "-")  \(v.source)")
            }
            for r in references {
                let name = r.name.padding(toLength: width, withPad: " ", startingAt: 0)
                print("\(name)  reference  \(r.format.rawValue)  \(r.byteCount) bytes  sha256 \(r.sha256.prefix(12))")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a reference recording under NAME (by content: the same recording twice is stored once).")

        @Argument(help: "1–64 characters of letters, digits, '_', '.', '-'.") var name: String
        @Argument(help: "A WAV, FLAC, OGG or MP3 recording of the voice.") var file: String
        @Flag(help: "Replace an existing voice of that name.") var replace = false

        func validate() throws {
            do {
                try VoiceName.validate(name)
            } catch let error as VoxError {
                throw ValidationError(error.message)
            }
        }

        func run() async throws {
            VoxServeCommand.bootstrapLogging(verbose: false)
            let url = URL(fileURLWithPath: file)
            let audio = try AudioDecoder().decode(contentsOf: url)
            let entry = try await VoiceLibrary(paths: VoxServeCommand.environmentConfiguration().paths).add(name: name, file: url, replacing: replace)
            print("Added voice '\(entry.name)': \(String(format: "%.1f", audio.duration)) s of \(entry.format.rawValue), sha256 \(entry.sha256.prefix(12)).")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a stored reference voice.")

        @Argument var name: String

        func run() async throws {
            VoxServeCommand.bootstrapLogging(verbose: false)
            let entry = try await VoiceLibrary(paths: VoxServeCommand.environmentConfiguration().paths).remove(name: name)
            print("Removed voice '\(entry.name)'.")
        }
    }

    struct Similarity: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the cosine similarity of two speakers (stored voice names or audio files).",
            discussion: "Embeddings come from the Resemblyzer speaker encoder and are cached by the recordings' content.")

        @Argument(help: "A stored voice name or an audio file.") var first: String
        @Argument(help: "A stored voice name or an audio file.") var second: String
        @Flag(help: "Print JSON with the cache outcome of each side.") var json = false

        func run() async throws {
            VoxServeCommand.bootstrapLogging(verbose: false)
            let paths = VoxServeCommand.environmentConfiguration().paths
            let library = VoiceLibrary(paths: paths)
            let embedder = try SpeakerEmbedder(paths: paths)
            let a = try await embedder.embedding(for: try await reference(first, library: library))
            let b = try await embedder.embedding(for: try await reference(second, library: library))
            let cosine = VoiceEncoder.cosine(a.embedding, b.embedding)
            if json {
                print(#"{"cosine": \#(cosine), "cache": ["\#(a.outcome.rawValue)", "\#(b.outcome.rawValue)"]}"#)
            } else {
                print(String(format: "%.4f", cosine))
            }
        }

        /// A stored voice when the library has the name, else a file.
        func reference(_ value: String, library: VoiceLibrary) async throws -> VoiceReference {
            if VoiceName.isValid(value), let stored = try? await library.reference(named: value) {
                return stored
            }
            guard FileManager.default.fileExists(atPath: value) else {
                throw VoxError.unknownVoice(value)
            }
            return try VoiceReference(contentsOf: URL(fileURLWithPath: value))
        }
    }
}
