import Foundation
import Testing
import VoxCore

/// Issue 15's fleet: `scripts/fleet_check.py` starts a private PostgreSQL (Debian's, in a temp
/// folder, on a loopback port), two `voxserve serve --store postgres://…` replicas and nginx
/// round-robin in front of them, runs the scenarios and reports what it measured; the thresholds
/// are judged here.
@Suite struct FleetTests {
    struct Speech: Decodable {
        var status: Int
        var cache: String?
        var ttfa: Double?
        var code: String?
    }

    struct Report: Decodable {
        struct Upload: Decodable {
            var status: Int
            var seen_after: [String: Double?]
        }
        struct Shared: Decodable {
            var a: Speech
            var b: Speech
            var computed: [Int]
        }
        struct Concurrent: Decodable {
            var upload: Int
            var statuses: [Int]
            var computed: [Int]
        }
        struct Delete: Decodable {
            var status: Int
            var a_forgot_after: Double?
            var a_status: Int
            var a_code: String?
        }
        struct Timing: Decodable {
            var miss_on_a: [Double]
            var shared_hit_on_b: [Double]
            var b_caches: [String?]
        }
        struct Limits: Decodable {
            var limit: Int
            var conditioning: Int
            var recordings: Int
            var voices: Int
            var cloned_listed: Int
            var oldest_still_speaks: Speech
        }
        struct Balanced: Decodable {
            var statuses: [Int]
            var proxied: Int
            var served: [Int]
        }
        struct Outage: Decodable {
            var builtin: [Int]
            var degraded_after: [Double?]
            var problems: [[String]?]
            var metrics_degraded: [Bool]
            var upload_while_down: Int
            var upload_code: String?
            var recovered_after: [Double?]
            var cloned_after: [Int]
            var voices_after: [[String]?]
        }
        var error: String?
        var logs: [String: String]?
        var upload: Upload?
        var shared: Shared?
        var concurrent: Concurrent?
        var delete: Delete?
        var timing: Timing?
        var limits: Limits?
        var balanced: Balanced?
        var outage: Outage?
    }

    @Test func twoReplicasShareVoicesAndConditioningThroughPostgreSQL() async throws {
        let deps = try #require(VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let output = try await offload {
            try ProcessRunner.run(
                deps.appendingPathComponent("venv/bin/python"), [root.appendingPathComponent("scripts/fleet_check.py").path, "--bin", CLI.executable.path],
                environment: ["VOXSERVE_DEPS": deps.path])
        }
        try #require(output.status == 0, "fleet_check.py failed: \(output.stderrText)")
        let report = try JSONDecoder().decode(Report.self, from: output.stdout)
        try #require(report.error == nil, "\(report.error ?? "")\n\(report.logs ?? [:])")

        // Upload through nginx: both replicas list it within a second.
        let upload = try #require(report.upload)
        #expect(upload.status == 201)
        for (replica, seconds) in upload.seen_after {
            #expect((seconds ?? 99) < 1, "replica \(replica) listed the upload after \(String(describing: seconds)) s")
        }

        // Conditioned on A, a hit from the store on B: one computation.
        let shared = try #require(report.shared)
        #expect(shared.a.status == 200 && shared.a.cache == "miss")
        #expect(shared.b.status == 200 && shared.b.cache == "hit")
        #expect(shared.computed == [1, 0])

        // 8 concurrent first requests across both replicas: computed once, fleet-wide.
        let concurrent = try #require(report.concurrent)
        #expect(concurrent.upload == 201)
        #expect(concurrent.statuses == Array(repeating: 200, count: 8))
        #expect(concurrent.computed.reduce(0, +) == 1, "computed \(concurrent.computed) times on each replica")

        // Deleted on B: A forgets it within a second and answers unknown voice.
        let delete = try #require(report.delete)
        #expect(delete.status == 200)
        #expect((delete.a_forgot_after ?? 99) < 1, "A still listed it after \(String(describing: delete.a_forgot_after)) s")
        #expect(delete.a_status == 404 && delete.a_code == "voice_not_found")

        let timing = try #require(report.timing)
        #expect(timing.b_caches.allSatisfy { $0 == "hit" }, "\(timing.b_caches)")

        // More voices conditioned than the store may keep: conditioning evicted down to the limit,
        // never a recording; an evicted voice is computed again.
        let limits = try #require(report.limits)
        #expect(limits.conditioning <= limits.limit && limits.conditioning > 0, "\(limits.conditioning) entries kept, limit \(limits.limit)")
        #expect(limits.voices == limits.cloned_listed && limits.voices > limits.limit)
        #expect(limits.recordings == limits.voices, "every voice keeps its recording")
        #expect(limits.oldest_still_speaks.status == 200)

        let balanced = try #require(report.balanced)
        #expect(balanced.statuses == [200, 200, 200, 200])
        #expect(balanced.proxied == 4)
        #expect(balanced.served == [2, 2], "round robin: \(balanced.served) requests served per replica")

        // The database dies: built-in voices speak, both replicas say degraded, uploads are
        // refused; it returns: both recover by themselves and nothing is lost.
        let outage = try #require(report.outage)
        #expect(outage.builtin == [200, 200])
        #expect(outage.degraded_after.allSatisfy { $0 != nil }, "\(outage.degraded_after)")
        #expect(outage.problems.allSatisfy { ($0 ?? []).contains { $0.contains("PostgreSQL") } })
        #expect(outage.metrics_degraded == [true, true])
        #expect(outage.upload_while_down == 503 && outage.upload_code == "unavailable")
        #expect(outage.recovered_after.allSatisfy { $0 != nil }, "\(outage.recovered_after)")
        #expect(outage.cloned_after == [200, 200])
        for list in outage.voices_after {
            #expect(list.map { Set(["fleet-many", "fleet-local", "fleet-time-4"]).isSubset(of: $0) } == true, "\(String(describing: list))")
        }
    }
}
