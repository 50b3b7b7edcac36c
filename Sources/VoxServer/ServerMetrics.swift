import Foundation
import Prometheus
import VoxCore
import VoxRuntime

/// The server's Prometheus metrics, in a registry of its own (so two applications in one test
/// process do not share counters). `GET /metrics` renders it in the text exposition format.
final class ServerMetrics: @unchecked Sendable {
    // Thread safety: the registry and its metrics are thread-safe; `lock` guards the
    // last-seen totals used to turn the service's running totals into counter increments.
    let registry = PrometheusCollectorRegistry()
    private let lock = NSLock()
    private var seenTotals: [String: Int] = [:]

    static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
        .seconds(60), .seconds(120),
    ]
    static let rtfBuckets: [Double] = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5]

    private func name(_ metric: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "voxserve", metricName: metric, unitName: unit, helpText: help)
    }

    /// One finished HTTP request.
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: name("http_requests", unit: "total", help: "HTTP requests by route, method and status."),
            labels: [("route", route), ("method", method), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: name("http_request_duration", unit: "seconds", help: "Time from request to the last byte of the response."),
            labels: [("route", route)], buckets: Self.latencyBuckets
        ).record(duration)
    }

    /// One finished synthesis.
    func recordSynthesis(voice: String, audioSeconds: Double, wallSeconds: Double, timeToFirstAudio: Double?, cache: ConditioningCacheOutcome?, streamed: Bool) {
        if audioSeconds > 0 {
            registry.makeValueHistogram(
                descriptor: name("synthesis_real_time_factor", unit: "", help: "Synthesis wall time divided by audio duration (lower is faster)."),
                labels: [("stream", String(streamed))], buckets: Self.rtfBuckets
            ).record(wallSeconds / audioSeconds)
        }
        if let timeToFirstAudio {
            registry.makeDurationHistogram(
                descriptor: name("time_to_first_audio", unit: "seconds", help: "Time from accepting a speech request to its first audio."),
                labels: [("stream", String(streamed))], buckets: Self.latencyBuckets
            ).record(.nanoseconds(Int64(timeToFirstAudio * 1e9)))
        }
        registry.makeCounter(
            descriptor: name("audio_generated", unit: "seconds_total", help: "Seconds of audio synthesized."), labels: []
        ).increment(by: audioSeconds)
        registry.makeCounter(
            descriptor: name("voice_cache_requests", unit: "total", help: "Speech requests by voice-conditioning cache outcome (none: the voice needs no conditioning)."),
            labels: [("result", CacheHeader.value(cache))]
        ).increment()
    }

    /// A request refused because the queue was full.
    func recordRejection() {
        registry.makeCounter(
            descriptor: name("queue_rejections", unit: "total", help: "Speech requests refused with 429 because the queue was full."), labels: []
        ).increment()
    }

    /// A request that ran past its deadline.
    func recordTimeout() {
        registry.makeCounter(descriptor: name("request_timeouts", unit: "total", help: "Speech requests answered 504."), labels: []).increment()
    }

    /// Brings the gauges and the service's running totals up to date; called before rendering.
    func update(queue: SynthesisQueue, status: ServiceStatus) {
        registry.makeGauge(descriptor: name("queue_depth", unit: "", help: "Speech requests waiting for a synthesis slot."), labels: [])
            .set(Double(queue.waiting))
        registry.makeGauge(descriptor: name("syntheses_active", unit: "", help: "Syntheses running now."), labels: [])
            .set(Double(queue.active))
        registry.makeGauge(descriptor: name("workers_alive", unit: "", help: "Worker processes that are idle or busy."), labels: [])
            .set(Double(status.workers.filter { $0.state == .idle || $0.state == .busy }.count))
        registry.makeGauge(descriptor: name("conditioning_cache", unit: "bytes", help: "Bytes held by the conditioning cache."), labels: [])
            .set(Double(status.cache.bytes))
        advance("plan_fallbacks", help: "Plan steps that failed and fell back to the next plan entry.", to: status.fallbacks)
        advance("worker_restarts", help: "Worker processes restarted after they died.", to: status.workerRestarts)
        advance("conditioning_cache_hits", help: "Conditioning cache hits.", to: status.cache.hits)
        advance("conditioning_cache_misses", help: "Conditioning cache misses.", to: status.cache.misses)
        advance("conditioning_cache_evictions", help: "Conditioning cache evictions.", to: status.cache.evictions)
        advance("conditioning_computations", help: "Voice conditionings this server computed (not found in memory, the cache folder or a fleet's store).", to: status.cache.computations)
        advance("cache_write_failures", help: "Cache writes that failed (the server spoke without the cache).", to: status.cacheWriteFailures)
        registry.makeGauge(descriptor: name("degraded", unit: "", help: "1 while /healthz says degraded (see its problems), else 0."), labels: [])
            .set(Double(status.problems.isEmpty ? 0 : 1))
    }

    /// Moves counter `metric` up to the service's running total `total`.
    private func advance(_ metric: String, help: String, to total: Int) {
        let counter = registry.makeCounter(descriptor: name(metric, unit: "total", help: help), labels: [])
        let delta: Int = lock.withLock {
            let previous = seenTotals[metric] ?? 0
            seenTotals[metric] = max(previous, total)
            return max(0, total - previous)
        }
        if delta > 0 { counter.increment(by: Int64(delta)) }
    }

    func render() -> String { registry.emitToString() }
}

/// The `X-Vox-Cache` header's and the metrics' word for a request's conditioning outcome:
/// `hit` (memory or disk), `miss`, or `none` for a voice that needs no conditioning.
enum CacheHeader {
    static func value(_ outcome: ConditioningCacheOutcome?) -> String {
        guard let outcome else { return "none" }
        return outcome.isHit ? "hit" : "miss"
    }
}
