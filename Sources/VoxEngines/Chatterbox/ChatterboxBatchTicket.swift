import Foundation
import VoxCore

/// Where a streamed sentence's speech tokens come from: its own generator, run by the stream
/// (batch 1), or a row of the engine's shared batch (`ChatterboxBatcher`).
protocol ChatterboxTokenSource: AnyObject, Sendable {
    /// Waits until at least `count` tokens exist or generation has ended; returns every token so far
    /// (never the stop token) and whether generation has ended.
    func tokens(atLeast count: Int) async throws -> (tokens: [Int], finished: Bool)
    /// Stops generating for this sentence (the listener left); harmless once finished.
    func cancel()
}

extension ChatterboxGenerator: ChatterboxTokenSource {
    func tokens(atLeast count: Int) async throws -> (tokens: [Int], finished: Bool) {
        let want = count - tokens.count
        if want > 0, !isFinished { _ = try await offload { try self.run(atMost: want) } }
        return (tokens, isFinished)
    }

    /// The stream stops asking; nothing runs between its requests.
    func cancel() {}
}

/// One sentence in the engine's batch, as its stream sees it: the batch loop appends each token as
/// the row's step ends, and the stream waits for as many as its next chunk needs. A cancelled
/// ticket leaves the batch at the next step boundary; a failed one carries its error.
///
/// Thread-safety: every field is behind `state`'s lock; continuations are resumed outside it.
final class ChatterboxBatchTicket: ChatterboxTokenSource, @unchecked Sendable {
    private struct State {
        var tokens: [Int] = []
        var finished = false
        var cancelled = false
        var error: (any Error)?
        var waiters: [(count: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    /// The sentence's sampling state (seed, settings, history); only the batch loop drives it.
    let generator: ChatterboxGenerator
    private let state = Locked(State())

    init(generator: ChatterboxGenerator) {
        self.generator = generator
    }

    func tokens(atLeast count: Int) async throws -> (tokens: [Int], finished: Bool) {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: Result<Void, any Error>? = state.withLock { s in
                    if let error = s.error { return .failure(error) }
                    if s.cancelled || Task.isCancelled { return .failure(CancellationError()) }
                    if s.finished || s.tokens.count >= count { return .success(()) }
                    s.waiters.append((count, continuation))
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            self.cancel()
        }
        let (tokens, finished, error) = state.withLock { ($0.tokens, $0.finished, $0.error) }
        if let error { throw error }
        return Self.asAlone(tokens: tokens, finished: finished, count: count, limit: generator.maxNewTokens)
    }

    /// What the generator run alone would answer for `count` (`ChatterboxGenerator.tokens(atLeast:)`
    /// runs until `count` tokens or the end, never further): the first `count` tokens, and the end
    /// only once those are all there are and no further step would have run. The row decodes ahead
    /// of its stream; answering this way keeps the stream's chunks, and so its audio, as alone.
    static func asAlone(tokens: [Int], finished: Bool, count: Int, limit: Int) -> (tokens: [Int], finished: Bool) {
        if tokens.count > count { return (Array(tokens.prefix(count)), false) }
        if tokens.count == count { return (tokens, finished && count >= limit) }
        return (tokens, finished)
    }

    func cancel() {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            guard !s.cancelled else { return [] }
            s.cancelled = true
            defer { s.waiters = [] }
            return s.waiters.map(\.continuation)
        }
        for continuation in waiting { continuation.resume(throwing: CancellationError()) }
    }

    /// True once the stream gave up: the batch loop then drops the row.
    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// The batch loop: one step's token (nil for the stop token) and whether generation ended.
    func deliver(_ token: Int?, finished: Bool) {
        let ready = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            if let token { s.tokens.append(token) }
            s.finished = s.finished || finished
            let count = s.tokens.count
            let done = s.finished
            let ready = s.waiters.filter { done || count >= $0.count }.map(\.continuation)
            s.waiters.removeAll { done || count >= $0.count }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// The batch loop: this row failed; its stream gets `error`.
    func fail(_ error: any Error) {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.error = s.error ?? error
            s.finished = true
            defer { s.waiters = [] }
            return s.waiters.map(\.continuation)
        }
        for continuation in waiting { continuation.resume(throwing: error) }
    }
}
