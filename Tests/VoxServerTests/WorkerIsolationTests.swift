import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VoxAudio
import VoxRuntime
@testable import VoxServer

/// The `voxserve` binary beside this test bundle (`swift build` builds it).
func voxserveExecutable() throws -> URL {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    let candidates = [dir, dir.deletingLastPathComponent()].map { $0.appendingPathComponent("voxserve") }
    let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    return try #require(found, "the voxserve executable is not built next to the tests (\(dir.path)): run `swift build` first")
}

struct Health: Decodable {
    var status: String
    var isolation: String
    var workers: [ServiceStatus.Worker]
    var worker_problem: String?
    var worker_restarts: Int
}

func health(_ client: some TestClientProtocol) async throws -> Health {
    try JSONDecoder().decode(Health.self, from: try await client.execute(uri: "/healthz", method: .get).body.data)
}

/// Polls `/healthz` until `condition` holds (or fails after `timeout`).
func waitForHealth(_ client: some TestClientProtocol, timeout: Duration = .seconds(90), _ condition: (Health) -> Bool) async throws -> Health {
    let deadline = ContinuousClock.now + timeout
    while true {
        let h = try await health(client)
        if condition(h) { return h }
        try #require(ContinuousClock.now < deadline, "health never reached the expected state: \(h)")
        try await Task.sleep(for: .milliseconds(50))
    }
}

@Suite(.serialized) struct WorkerIsolationTests {
    let longText = (1...16).map { "This is sentence number \($0) of a long request." }.joined(separator: " ")

    func processService(executable: URL, workers: Int = 1) -> WorkerSpeechService {
        WorkerSpeechService(local: Shared.service, workers: workers, executable: executable, arguments: [], startTimeout: .seconds(90), logger: Shared.logger)
    }

    @Test func aWorkerKilledMidRequestIsRestartedAndTheRequestRetried() async throws {
        let config = ServerConfiguration(isolation: .process, workers: 1, maxConcurrentSyntheses: 1)
        let app = try makeApp(config, service: processService(executable: try voxserveExecutable()))
        try await app.test(.router) { client in
            let ready = try await waitForHealth(client) { $0.workers.first?.state == .idle }
            #expect(ready.isolation == "process")
            let victim = try #require(ready.workers.first?.pid)

            let text = longText
            let inFlight = Task {
                try await client.execute(
                    uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": text, "response_format": "wav", "stream": false]))
            }
            _ = try await waitForHealth(client, timeout: .seconds(30)) { $0.workers.first?.state == .busy }
            try await Task.sleep(for: .milliseconds(300))
            #expect(kill(victim, SIGKILL) == 0)

            // Nothing had reached the client yet, so the request ran again on the restarted worker.
            let response = try await inFlight.value
            #expect(response.status == .ok)
            let audio = try AudioDecoder().decode(response.body.data, label: "retried")
            #expect(plausibleDuration(audio.duration, for: text))

            let after = try await waitForHealth(client) { $0.workers.first?.state == .idle }
            #expect(after.worker_restarts == 1)
            #expect(after.workers.first?.pid != victim)

            let next = try await client.execute(uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Still here.", "response_format": "wav"]))
            #expect(next.status == .ok)
            #expect(try WAVHeader(next.body.data).sampleRate == 22050)
        }
    }

    @Test func workersThatCannotStartLeaveTheServerSynthesizingInProcessAndHealthSaysSo() async throws {
        let config = ServerConfiguration(isolation: .process, workers: 1)
        let service = processService(executable: URL(fileURLWithPath: "/nonexistent/voxserve"))
        try await makeApp(config, service: service).test(.router) { client in
            let response = try await client.execute(uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Fallback works.", "response_format": "wav"]))
            #expect(response.status == .ok)
            let h = try await health(client)
            #expect(h.status == "degraded")
            #expect(h.isolation == "inprocess")
            #expect(h.worker_problem?.contains("could not start") == true)
        }
    }

    /// A worker stopped (SIGSTOP) before it answers holds its request until `--timeout`, no
    /// longer: the client gets its 504 then, and the worker is killed and replaced.
    @Test func aHungWorkerTimesOutAtTheDeadlineAndIsReplaced() async throws {
        let config = ServerConfiguration(isolation: .process, workers: 1, maxConcurrentSyntheses: 1, requestTimeout: .seconds(3))
        let app = try makeApp(config, service: processService(executable: try voxserveExecutable()))
        try await app.test(.router) { client in
            let ready = try await waitForHealth(client) { $0.workers.first?.state == .idle }
            let hung = try #require(ready.workers.first?.pid)
            #expect(kill(hung, SIGSTOP) == 0)
            defer { kill(hung, SIGKILL) }

            let sent = ContinuousClock.now
            let response = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "Nobody answers.", "response_format": "wav"]))
            let waited = ContinuousClock.now - sent
            #expect(response.status == .gatewayTimeout)
            #expect(waited < .seconds(60), "answered after \(waited), the timeout is 3 s (it used to wait for the worker forever)")

            let after = try await waitForHealth(client, timeout: .seconds(60)) { $0.workers.first?.state == .idle && $0.workers.first?.pid != hung }
            #expect(after.worker_restarts == 1)
            let next = try await client.execute(uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": "A new worker.", "response_format": "wav"]))
            #expect(next.status == .ok)
        }
    }

    /// Stopped in the middle of a request, after it answered: the client's 504 comes at
    /// `--timeout`, and the silent worker is killed and replaced within seconds. The request is not
    /// streamed (`stream: false`): a streamed one whose first audio went out before the stop ends
    /// as a cut-short body, not a 504, and on a busy machine that depended on timing.
    @Test func aWorkerHungMidRequestTimesOutAndIsReplaced() async throws {
        let config = ServerConfiguration(isolation: .process, workers: 1, maxConcurrentSyntheses: 1, requestTimeout: .seconds(4))
        let app = try makeApp(config, service: processService(executable: try voxserveExecutable()))
        try await app.test(.router) { client in
            let ready = try await waitForHealth(client) { $0.workers.first?.state == .idle }
            let hung = try #require(ready.workers.first?.pid)
            defer { kill(hung, SIGKILL) }
            let text = longText + " " + longText
            let sent = ContinuousClock.now
            let inFlight = Task {
                try await client.execute(
                    uri: "/v1/audio/speech", method: .post, headers: jsonHeaders, body: json(["input": text, "response_format": "wav", "stream": false]))
            }
            _ = try await waitForHealth(client, timeout: .seconds(30)) { $0.workers.first?.state == .busy }
            try await Task.sleep(for: .milliseconds(300))
            #expect(kill(hung, SIGSTOP) == 0)
            let response = try await inFlight.value
            #expect(response.status == .gatewayTimeout)
            #expect(ContinuousClock.now - sent < .seconds(30), "the timeout is 4 s")
            let after = try await waitForHealth(client, timeout: .seconds(60)) { $0.workers.first?.state == .idle && $0.workers.first?.pid != hung }
            #expect(after.worker_restarts == 1)
            #expect(ContinuousClock.now - sent < .seconds(32), "replaced after the 5 s of silence, not the 30 s cap (at least 4 + 30 s)")
        }
    }
}
