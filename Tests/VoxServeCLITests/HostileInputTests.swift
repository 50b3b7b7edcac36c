import Foundation
import Testing
import VoxCore

/// Issue 10's hostile-input suite: `scripts/hostile.py` starts the `voxserve` built beside the tests
/// (`serve --max-upload-mb 2 --timeout 20 --api-key …`, a private VOXSERVE_HOME, the tiny Chatterbox
/// test models), throws malformed, oversized and abusive requests at it, and checks every answer's
/// status, error shape, leaks and the server's health after each case.
@Suite struct HostileInputTests {
    @Test func theServerKeepsItsContractUnderHostileInput() async throws {
        let deps = try #require(VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory)
        let python = deps.appendingPathComponent("venv/bin/python")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("scripts/hostile.py")
        let results = FileManager.default.temporaryDirectory.appendingPathComponent("voxserve-hostile-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: results) }

        // A blocking wait on a child process: off Swift's cooperative threads.
        let output = try await offload {
            try ProcessRunner.run(
                python, [script.path, "--bin", CLI.executable.path, "--out", results.path],
                environment: ["VOXSERVE_DEPS": deps.path])
        }
        let table = output.stdoutText + (output.stderrText.isEmpty ? "" : "\n" + output.stderrText)
        #expect(output.status == 0, "scripts/hostile.py exited with status \(output.status):\n\(table)")

        let data = try #require(try? Data(contentsOf: results), "scripts/hostile.py wrote no results:\n\(table)")
        let summary = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = summary["cases"] as? Int ?? 0
        #expect(cases >= 80, "only \(cases) hostile cases ran:\n\(table)")
        #expect(summary["failed"] as? Int == 0, "\(summary["summary"] ?? "")")
    }
}
