import ArgumentParser
import Foundation
import VoxCore
import VoxPhonemizer
import VoxRuntime

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Show what VoxServe runs on: libraries, hardware, GPU, execution plans and fallbacks, caches.",
        discussion: """
            Ends with ✓/✗ checks and a verdict, and exits with status 1 when a required part \
            (ONNX Runtime, espeak-ng, the default voice, WAV encoding) is broken. The default voice \
            speaks one word through the optimizer, as the server would build it.
            """
    )

    @Flag(help: "Print the report as one JSON document.") var json = false

    func run() async throws {
        VoxServeCommand.bootstrapLogging(verbose: false)
        let factory = SynthesizerFactory(configuration: VoxServeCommand.environmentConfiguration(), phonemizer: EspeakPhonemizer.shared)
        let report = await DoctorReport.build(factory: factory)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text)
        }
        if !report.ok { throw ExitCode(1) }
    }
}
