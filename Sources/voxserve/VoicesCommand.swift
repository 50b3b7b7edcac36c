import ArgumentParser
import Foundation
import VoxCore
import VoxEngines

struct VoicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voices",
        abstract: "List and manage voices.",
        subcommands: [List.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the installed voices.")

        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let paths = VoxPaths.fromEnvironment()
            let voices = VoiceCatalog(paths: paths).list()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(voices), as: UTF8.self))
                return
            }
            if voices.isEmpty {
                print("No voices found. Run `make setup`, or put a Piper voice (NAME.onnx + NAME.onnx.json) in \(paths.voicesDirectory.path).")
                return
            }
            let width = voices.map(\.name.count).max() ?? 4
            for v in voices {
                let name = v.name.padding(toLength: width, withPad: " ", startingAt: 0)
                print("\(name)  \(v.engine)  \(v.sampleRate) Hz  \(v.speakers) speaker\(v.speakers == 1 ? "" : "s")  \(v.language ?? "-")  \(v.source)")
            }
        }
    }
}
