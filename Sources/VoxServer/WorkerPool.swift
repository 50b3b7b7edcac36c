import Foundation
import Logging
import VoxCore
import VoxRuntime
#if canImport(Glibc)
import Glibc
#endif

/// A fixed number of `voxserve worker` subprocesses: starts them, lends an idle one to each
/// request, and replaces one that dies (at most `maxCrashesPerMinute` times a minute per slot,
/// after which the slot stays down and `/healthz` says why).
actor WorkerPool {
    enum Phase: Sendable, Equatable {
        case notStarted, starting, running
        /// No worker could be started; the reason is for logs and `/healthz`.
        case failed(String)
        case stopping
    }

    struct Slot {
        var worker: WorkerProcess?
        var state = ServiceStatus.Worker.State.starting
        /// The conditioning cache counters its worker last reported (with each finished request).
        var cache = ServiceStatus.Cache()
        var restarts = 0
        var requests = 0
        var crashes: [ContinuousClock.Instant] = []
        var lastPID: Int32 = 0
    }

    static let maxCrashesPerMinute = 5

    let size: Int
    let executable: URL
    let arguments: [String]
    let environment: [String: String]?
    let startTimeout: Duration
    let logger: Logger

    private(set) var phase = Phase.notStarted
    private var slots: [Slot]
    private var idle: [Int] = []
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<WorkerProcess, any Error>)] = []
    private var phaseWaiters: [CheckedContinuation<Phase, Never>] = []
    private var nextWaiterID: UInt64 = 0
    private(set) var totalRestarts = 0
    private(set) var plan = ""
    private(set) var problem: String?

    init(size: Int, executable: URL, arguments: [String], environment: [String: String]?, startTimeout: Duration, logger: Logger) {
        self.size = max(1, size)
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.startTimeout = startTimeout
        self.logger = logger
        self.slots = Array(repeating: Slot(), count: max(1, size))
    }

    /// Starts every worker and waits until each is ready or has failed.
    func start() async {
        guard phase == .notStarted else { return }
        signal(SIGPIPE, SIG_IGN)  // a dead worker's stdin must give EPIPE, not kill the server
        phase = .starting
        await withTaskGroup(of: Void.self) { group in
            for slot in 0..<size {
                group.addTask { await self.launch(slot: slot) }
            }
        }
        if idle.isEmpty {
            let reason = problem ?? "no worker became ready"
            phase = .failed(reason)
            logger.error("worker processes could not start; synthesizing in the server process instead", metadata: ["vox.reason": "\(reason)"])
        } else {
            phase = .running
            logger.info("worker processes ready", metadata: ["vox.workers": "\(idle.count)", "vox.executable": "\(executable.path)"])
        }
        for waiter in phaseWaiters { waiter.resume(returning: phase) }
        phaseWaiters = []
    }

    /// The phase once starting is over.
    func startedPhase() async -> Phase {
        switch phase {
        case .notStarted, .starting:
            return await withCheckedContinuation { phaseWaiters.append($0) }
        default:
            return phase
        }
    }

    /// Spawns the worker of `slot` and waits for its `ready` frame.
    private func launch(slot: Int) async {
        slots[slot].state = .starting
        let worker: WorkerProcess
        do {
            worker = try WorkerProcess(slot: slot, executable: executable, arguments: arguments, environment: environment) { pid in
                Task { await self.workerExited(slot: slot, pid: pid, reason: "the process exited") }
            }
        } catch {
            fail(slot: slot, reason: "\(error)")
            return
        }
        slots[slot].worker = worker
        slots[slot].lastPID = worker.pid
        switch await worker.nextEvent(killAfter: startTimeout) {
        case .frame(let frame) where frame.message.type == .ready:
            guard slots[slot].worker === worker else { return }  // died meanwhile
            plan = frame.message.plan ?? plan
            slots[slot].state = .idle
            logger.debug("worker ready", metadata: ["vox.worker.pid": "\(worker.pid)", "vox.worker.slot": "\(slot)"])
            lend(slot: slot)
        case .frame(let frame):
            worker.kill()
            fail(slot: slot, reason: "worker pid \(worker.pid) sent '\(frame.message.type.rawValue)' before 'ready'")
        case .exited(let reason):
            fail(slot: slot, reason: "worker pid \(worker.pid) exited before it was ready (\(reason)); see its log above")
        }
    }

    private func fail(slot: Int, reason: String) {
        slots[slot].worker = nil
        slots[slot].state = .dead
        problem = reason
        logger.error("worker failed", metadata: ["vox.worker.slot": "\(slot)", "vox.reason": "\(reason)"])
        failWaitersIfNoWorkerCanCome()
    }

    /// Gives `slot`'s worker to the longest waiter, or marks it idle.
    private func lend(slot: Int) {
        guard let worker = slots[slot].worker else { return }
        if !waiters.isEmpty {
            let waiter = waiters.removeFirst()
            slots[slot].state = .busy
            slots[slot].requests += 1
            waiter.continuation.resume(returning: worker)
        } else if !idle.contains(slot) {
            idle.append(slot)
        }
    }

    /// An idle worker, waiting for one when all are busy.
    func checkout() async throws -> WorkerProcess {
        while let slot = idle.first {
            idle.removeFirst()
            guard let worker = slots[slot].worker, worker.isRunning else { continue }
            slots[slot].state = .busy
            slots[slot].requests += 1
            return worker
        }
        if phase == .stopping {
            throw VoxError(.unavailable, "The server is shutting down; retry on another instance or after it restarts.")
        }
        guard slots.contains(where: { $0.state != .dead }) else {
            throw VoxError(.unavailable, "No synthesis worker is running (\(problem ?? "they keep crashing")). Retry later.")
        }
        nextWaiterID += 1
        let id = nextWaiterID
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiters.append((id, continuation))
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    /// Returns a worker after its request finished, with its cache counters when it sent them.
    func checkin(_ worker: WorkerProcess, cacheStats: ServiceStatus.Cache? = nil) {
        guard slots[worker.slot].worker === worker else { return }
        if let cacheStats { slots[worker.slot].cache = cacheStats }
        slots[worker.slot].state = .idle
        lend(slot: worker.slot)
    }

    /// A worker's output closed or its process exited: forget it and start a replacement.
    func workerDied(_ worker: WorkerProcess, reason: String) {
        workerExited(slot: worker.slot, pid: worker.pid, reason: reason)
    }

    private func workerExited(slot: Int, pid: Int32, reason: String) {
        guard let worker = slots[slot].worker, worker.pid == pid else { return }  // already handled
        worker.kill()
        slots[slot].worker = nil
        idle.removeAll { $0 == slot }
        if phase == .stopping {
            slots[slot].state = .stopped
            return
        }
        guard slots[slot].state != .starting else { return }  // launch() reports it
        let now = ContinuousClock.now
        slots[slot].crashes = slots[slot].crashes.filter { now - $0 < .seconds(60) } + [now]
        logger.error("worker died; restarting it", metadata: ["vox.worker.pid": "\(pid)", "vox.reason": "\(reason)"])
        guard slots[slot].crashes.count <= Self.maxCrashesPerMinute else {
            fail(slot: slot, reason: "worker slot \(slot) crashed \(slots[slot].crashes.count) times in a minute; it stays down")
            return
        }
        slots[slot].restarts += 1
        totalRestarts += 1
        slots[slot].state = .starting
        Task { await self.launch(slot: slot) }
    }

    private func failWaitersIfNoWorkerCanCome() {
        guard !slots.contains(where: { $0.state != .dead }) else { return }
        for waiter in waiters {
            waiter.continuation.resume(throwing: VoxError(.unavailable, "No synthesis worker is running (\(problem ?? "unknown")). Retry later."))
        }
        waiters = []
    }

    /// Stops every worker (asks, then kills after `grace`).
    func stop(grace: Duration = .seconds(5)) async {
        phase = .stopping
        let workers = slots.compactMap(\.worker)
        for waiter in waiters { waiter.continuation.resume(throwing: VoxError(.unavailable, "The server is shutting down.")) }
        waiters = []
        await withTaskGroup(of: Void.self) { group in
            for worker in workers { group.addTask { await worker.stop(grace: grace) } }
        }
        for i in slots.indices {
            slots[i].worker = nil
            slots[i].state = .stopped
        }
        for waiter in phaseWaiters { waiter.resume(returning: phase) }
        phaseWaiters = []
    }

    /// The workers' conditioning caches together (each as its worker last reported it).
    var cacheStats: ServiceStatus.Cache {
        slots.reduce(ServiceStatus.Cache()) { $0 + $1.cache }
    }

    var status: [ServiceStatus.Worker] {
        slots.map { ServiceStatus.Worker(pid: $0.worker?.pid ?? $0.lastPID, state: $0.state, restarts: $0.restarts, requests: $0.requests) }
    }
}
