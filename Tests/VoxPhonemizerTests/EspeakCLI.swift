import Foundation
import VoxCore

/// Runs the `espeak-ng` command-line program (Debian package `espeak-ng`, installed by
/// scripts/setup.sh) as the reference the library's phonemes are compared with.
enum EspeakCLI {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static var executable: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let candidates = path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent("espeak-ng") }
            + [URL(fileURLWithPath: "/usr/bin/espeak-ng")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// `espeak-ng -q --ipa -v VOICE TEXT`: IPA phonemes, one line per clause, no punctuation.
    static func ipa(_ text: String, voice: String) throws -> String {
        guard let executable else {
            throw Failure(description: "espeak-ng (the CLI) is not installed; run scripts/setup.sh")
        }
        let result = try ProcessRunner.run(executable, ["-q", "--ipa", "-v", voice, text])
        guard result.status == 0 else {
            throw Failure(description: "espeak-ng -v \(voice) failed: \(result.stderrText)")
        }
        return result.stdoutText
    }
}
