import Foundation
import Testing
import VoxCore

/// `make gpu-check` on a machine without an NVIDIA GPU: it says it skipped and succeeds.
@Suite struct GPUCheckScriptTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/gpu-check.sh")

    @Test func withoutAGPUItSaysSkippedAndExitsZero() throws {
        guard dlopen("libnvidia-ml.so.1", RTLD_NOW) == nil else {
            // A GPU machine: the check itself is `make gpu-check`, too long for the unit tests.
            print("GPUCheckScriptTests skipped: this machine has an NVIDIA driver; run make gpu-check")
            return
        }
        let result = try ProcessRunner.run(Self.script, [], stdin: Data())
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(result.stdoutText == "SKIPPED: no NVIDIA GPU\n")
    }
}
