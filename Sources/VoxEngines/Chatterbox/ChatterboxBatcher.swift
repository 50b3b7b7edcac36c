import Foundation
import VoxCore
import VoxONNX

/// Continuous batching for the Chatterbox language model: every sentence being generated, from
/// concurrent requests and from the next sentence of a long one, decodes in one language-model run
/// per step. At real size a decode step is bound by reading the weights, so a step for four rows
/// costs little more than a step for one.
///
/// - Rows join at step boundaries. A joining sentence's prefill (conditioning and prompt) runs on
///   its own, in chunks of at most `prefillChunk` positions with one decode step of the batch
///   between chunks, so the rows already decoding wait at most one chunk per step. With nobody
///   decoding, the prefill runs whole.
/// - Rows are left-aligned to the longest: a shorter row's cache is padded on the left, its
///   `attention_mask` is 0 over the padding and its `position_ids` count its own positions, so it
///   sees what it would alone. The cache is repacked when a row joins or leaves (rare): in Swift
///   on the host, or with IO binding by a gather graph on the model's device (`KVCacheGatherer`),
///   so a cache in GPU memory never crosses to the host. Between, each step's `present.*` is fed
///   back as it is.
/// - Each row samples with its own settings and seed (its `ChatterboxGenerator`), stops on its own
///   and leaves; the original model's guidance rows (conditional and unconditional) ride as a pair.
/// - A row whose prefill or embedding fails, or whose stream is cancelled, leaves alone; a failed
///   batch run fails the rows in it (it cannot say whose input was at fault).
///
/// The loop runs off the cooperative pool while any row is waiting or running, and ends when none
/// is.
///
/// Thread-safety: `inbox` (tickets waiting, whether a loop runs) is behind its lock; everything
/// else belongs to the one loop that runs at a time.
final class ChatterboxBatcher: @unchecked Sendable {
    let languageModel: ONNXSession
    let layout: ChatterboxModelLayout
    /// Most sentences decoding together (a guided sentence is two rows but counts once).
    let maxBatch: Int
    /// Most prefill positions run between two decode steps while rows are decoding.
    let prefillChunk: Int
    /// Runs the batch's steps and prefill chunks (with IO binding when the engine uses it).
    private let runner: LanguageModelRunner
    /// Repacks the cache on the model's device; nil repacks on the host.
    let gatherer: KVCacheGatherer?

    private struct Inbox {
        var pending: [ChatterboxBatchTicket] = []
        var running = false
    }
    private let inbox = Locked(Inbox())

    /// What the loop has done, for tests and logs: batched steps run, the most sentences in one
    /// step, sentences that joined a batch already decoding, and prefill chunks run beside one.
    struct Counters: Sendable, Equatable {
        var steps = 0
        var largestBatch = 0
        var joinsWhileDecoding = 0
        var interleavedPrefillChunks = 0
        /// 2 ms waits while `holdWhile` held the batch.
        var holds = 0
    }
    private let countersLock = Locked(Counters())
    var counters: Counters { countersLock.get() }

    /// A sentence decoding in the batch: `rows` consecutive cache rows, `length` real positions each.
    private struct Slot {
        let ticket: ChatterboxBatchTicket
        var rows: Int { ticket.generator.batch }
        var length: Int
    }
    /// A sentence whose prefill is under way, with its own cache.
    private struct Joining {
        let ticket: ChatterboxBatchTicket
        /// [rows, total − start, hidden]: the positions still to run.
        let embeds: [Float]
        let total: Int
        var done: Int
        /// Positions the voice's cached prefix already holds.
        var start: Int { ticket.generator.prefillStart }
        var past: [String: ONNXValue] = [:]
        var seconds = 0.0
    }

    // Owned by the running loop.
    private var active: [Slot] = []
    private var past: [String: ONNXValue] = [:]
    private var pastLength = 0
    private var joining: Joining?
    private let clock = ContinuousClock()

    /// While this says so, the loop runs no step (checked every 2 ms): the engine's decoder gate
    /// holds the batch while a stream's first audio is being decoded.
    let holdWhile: (@Sendable () -> Bool)?

    init(
        languageModel: ONNXSession, layout: ChatterboxModelLayout, maxBatch: Int, prefillChunk: Int, ioBinding: Bool = false,
        gatherer: KVCacheGatherer? = nil, holdWhile: (@Sendable () -> Bool)? = nil
    ) {
        self.languageModel = languageModel
        runner = LanguageModelRunner(session: languageModel, layout: layout, ioBinding: ioBinding)
        self.gatherer = gatherer
        self.layout = layout
        self.maxBatch = max(1, maxBatch)
        self.prefillChunk = max(1, prefillChunk)
        self.holdWhile = holdWhile
    }

    /// Queues `generator`'s sentence; its tokens come through the ticket. Starts the loop if idle.
    func submit(_ generator: ChatterboxGenerator) -> ChatterboxBatchTicket {
        let ticket = ChatterboxBatchTicket(generator: generator)
        let start = inbox.withLock { inbox -> Bool in
            inbox.pending.append(ticket)
            guard !inbox.running else { return false }
            inbox.running = true
            return true
        }
        if start {
            DispatchQueue.global(qos: .userInitiated).async { self.loop() }
        }
        return ticket
    }

    /// Sentences waiting for a place in the batch now.
    var waiting: Int { inbox.withLock { $0.pending.count } }

    // MARK: the loop

    private func loop() {
        while true {
            dropLeavers()
            if let holdWhile, !active.isEmpty || joining != nil, holdWhile() {
                countersLock.withLock { $0.holds += 1 }
                Thread.sleep(forTimeInterval: 0.002)
                continue
            }
            if joining == nil, active.count < maxBatch {
                let next: ChatterboxBatchTicket? = inbox.withLock { inbox in
                    inbox.pending.removeAll { $0.isCancelled }
                    return inbox.pending.isEmpty ? nil : inbox.pending.removeFirst()
                }
                if let next { startJoining(next) }
            }
            if joining != nil { runPrefillChunk() }
            if !active.isEmpty { runDecodeStep() }
            let idle = inbox.withLock { inbox -> Bool in
                guard active.isEmpty, joining == nil, inbox.pending.isEmpty else { return false }
                inbox.running = false
                return true
            }
            if idle { return }
        }
    }

    private func startJoining(_ ticket: ChatterboxBatchTicket) {
        do {
            let embeds = try ticket.generator.prefillEmbeddings()
            joining = Joining(ticket: ticket, embeds: embeds, total: ticket.generator.prefixLength, done: ticket.generator.prefillStart)
        } catch {
            ticket.generator.finish()
            ticket.fail(error)
        }
    }

    /// One chunk of the joining sentence's prefill (all of it when no row is decoding); at its end
    /// the first token is sampled and the rows join the batch.
    private func runPrefillChunk() {
        guard var join = joining else { return }
        let generator = join.ticket.generator
        if join.ticket.isCancelled {
            generator.finish()
            joining = nil
            return
        }
        let started = clock.now
        let rows = generator.batch
        let hidden = generator.conditioning.hiddenSize
        let n = active.isEmpty ? join.total - join.done : min(prefillChunk, join.total - join.done)
        if !active.isEmpty { countersLock.withLock { $0.interleavedPrefillChunks += 1 } }
        do {
            let runtime = languageModel.runtime
            if join.done == join.start { join.past = try generator.initialCache() }
            var embeds: [Float] = []
            embeds.reserveCapacity(rows * n * hidden)
            let span = join.total - join.start
            for b in 0..<rows {
                let from = (b * span + join.done - join.start) * hidden
                embeds += join.embeds[from..<(from + n * hidden)]
            }
            var feeds = join.past
            feeds["inputs_embeds"] = try ONNXValue(try Tensor(floats: embeds, shape: [rows, n, hidden], type: layout.embedsType), runtime: runtime)
            let total = join.done + n
            feeds["attention_mask"] = try ONNXValue(Tensor(int64: [Int64](repeating: 1, count: rows * total), shape: [rows, total]), runtime: runtime)
            if layout.lmTakesPositionIDs {
                let positions = (join.done..<total).map(Int64.init)
                feeds["position_ids"] = try ONNXValue(
                    Tensor(int64: Array(repeatElement(positions, count: rows).joined()), shape: [rows, n]), runtime: runtime)
            }
            feeds.merge(try ChatterboxGenerator.extraFeeds(layout, runtime: runtime)) { $1 }
            let outputs = try run(feeds, step: "the prefill")
            join.past = try generator.nextCache(outputs, rows: rows, length: total)
            join.done = total
            join.seconds += (clock.now - started).seconds
            guard join.done == join.total else {
                joining = join
                return
            }
            joining = nil
            try generator.rememberPrefix(join.past)
            let logits = try generator.lastLogits(outputs["logits"], firstRow: 0, of: rows, length: n)
            let token = generator.accept(logits)
            generator.record(stepSeconds: join.seconds, cacheLength: join.start)
            join.ticket.deliver(token, finished: generator.isFinished)
            guard !generator.isFinished else { return }
            // Join: the batch and the newcomer, padded on the left to the longer.
            let newLength = max(pastLength, total)
            var sources: [(source: [String: ONNXValue], row: Int, length: Int)] = []
            var row = 0
            for slot in active {
                for _ in 0..<slot.rows {
                    sources.append((past, row, slot.length))
                    row += 1
                }
            }
            for r in 0..<rows { sources.append((join.past, r, total)) }
            if !active.isEmpty { countersLock.withLock { $0.joinsWhileDecoding += 1 } }
            past = active.isEmpty ? join.past : try repack(sources, to: newLength)
            pastLength = newLength
            active.append(Slot(ticket: join.ticket, length: total))
        } catch {
            joining = nil
            generator.finish()
            join.ticket.fail(error)
        }
    }

    /// One token for every decoding row, in one language-model run.
    private func runDecodeStep() {
        let started = clock.now
        let runtime = languageModel.runtime
        let hidden = active[0].ticket.generator.conditioning.hiddenSize
        var embeds: [Float] = []
        var mask: [Int64] = []
        var positions: [Int64] = []
        var failed = false
        for slot in active {
            do {
                embeds += try slot.ticket.generator.nextEmbeddings()
            } catch {
                slot.ticket.generator.finish()
                slot.ticket.fail(error)
                failed = true
            }
            for _ in 0..<slot.rows {
                mask += [Int64](repeating: 0, count: pastLength - slot.length) + [Int64](repeating: 1, count: slot.length + 1)
                positions.append(Int64(slot.length))
            }
        }
        // A row that could not be embedded leaves before the batch runs.
        if failed { return }
        let rowCount = positions.count
        do {
            var feeds = past
            feeds["inputs_embeds"] = try ONNXValue(try Tensor(floats: embeds, shape: [rowCount, 1, hidden], type: layout.embedsType), runtime: runtime)
            feeds["attention_mask"] = try ONNXValue(Tensor(int64: mask, shape: [rowCount, pastLength + 1]), runtime: runtime)
            if layout.lmTakesPositionIDs {
                feeds["position_ids"] = try ONNXValue(Tensor(int64: positions, shape: [rowCount, 1]), runtime: runtime)
            }
            feeds.merge(try ChatterboxGenerator.extraFeeds(layout, runtime: runtime)) { $1 }
            let outputs = try run(feeds, step: "a batched step of \(active.count) sentences")
            past = try active[0].ticket.generator.nextCache(outputs, rows: rowCount, length: pastLength + 1)
            let seconds = (clock.now - started).seconds
            var row = 0
            for i in active.indices {
                let generator = active[i].ticket.generator
                let logits = try generator.lastLogits(outputs["logits"], firstRow: row, of: rowCount, length: 1)
                row += active[i].rows
                let token = generator.accept(logits)
                generator.record(stepSeconds: seconds, cacheLength: pastLength)
                active[i].length += 1
                active[i].ticket.deliver(token, finished: generator.isFinished)
            }
            pastLength += 1
            let sentences = active.count
            countersLock.withLock { c in
                c.steps += 1
                c.largestBatch = max(c.largestBatch, sentences)
            }
        } catch {
            failAll(error)
        }
    }

    /// Fails every decoding row with `error` (a batched run cannot say whose input was at fault)
    /// and empties the batch.
    private func failAll(_ error: Error) {
        for slot in active {
            slot.ticket.generator.finish()
            slot.ticket.fail(error)
        }
        active = []
        past = [:]
        pastLength = 0
    }

    /// Removes finished, cancelled and failed rows, repacking the cache to the rows left (and
    /// dropping padding that no row needs any more).
    private func dropLeavers() {
        let stays = active.map { !$0.ticket.generator.isFinished && !$0.ticket.isCancelled }
        guard stays.contains(false) else { return }
        let keep = zip(active, stays).filter(\.1).map(\.0)
        guard !keep.isEmpty else {
            active = []
            past = [:]
            pastLength = 0
            return
        }
        var sources: [(source: [String: ONNXValue], row: Int, length: Int)] = []
        var row = 0
        for (slot, stays) in zip(active, stays) {
            for _ in 0..<slot.rows {
                if stays { sources.append((past, row, slot.length)) }
                row += 1
            }
        }
        let newLength = keep.map(\.length).max()!
        do {
            past = try repack(sources, to: newLength)
            pastLength = newLength
            active = keep
        } catch {
            failAll(error)
        }
    }

    // MARK: pieces

    private func run(_ feeds: [String: ONNXValue], step: String) throws -> [String: ONNXValue] {
        do {
            return try runner.run(feeds)
        } catch let error as ONNXRuntimeError {
            throw VoxError.engineFailure("The Chatterbox language model failed in \(step): \(error.message)", detail: error.description)
        }
    }

    /// A new cache whose row `r` holds `rows[r]`'s real positions (its last `length` columns),
    /// right-aligned in `newLength` columns: the rest is zero padding that the mask hides.
    private func repack(_ rows: [(source: [String: ONNXValue], row: Int, length: Int)], to newLength: Int) throws -> [String: ONNXValue] {
        var next: [String: ONNXValue] = [:]
        for name in layout.pastNames {
            guard let first = rows.first?.source[name] else { continue }
            let pieces = rows.map { row in
                let value = row.source[name]
                return KVCachePositions.Piece(value: value, row: row.row, start: (value?.shape[2] ?? 0) - row.length, count: row.length)
            }
            next[name] = try KVCachePositions.gather(pieces, length: newLength, like: first, name: name, runtime: languageModel.runtime, gatherer: gatherer)
        }
        return next
    }
}
