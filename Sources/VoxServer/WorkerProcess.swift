import Foundation
import Logging
import VoxCore
import VoxRuntime
#if canImport(Glibc)
import Glibc
#endif

/// One `voxserve worker` subprocess seen from the server: spawns it, writes frames to its stdin,
/// and reads frames from its stdout on a thread of its own, handing them to `nextEvent()`.
///
/// Thread safety: `lock` guards the event buffer and the waiting continuation; the process
/// handle and pipes are set in `init` and never change.
final class WorkerProcess: @unchecked Sendable {
    enum Event: Sendable {
        case frame(WorkerWire.Frame)
        /// Its stdout closed (it exited or was killed), or it wrote something that is not a frame.
        case exited(reason: String)
    }

    let slot: Int
    let pid: Int32
    private let process: Process
    private let stdinIO: FileDescriptorIO
    private let stdinHandle: FileHandle
    private let lock = NSLock()
    private var events: [Event] = []
    private var waiter: CheckedContinuation<Event, Never>?
    private var hasExited = false
    private var lastEvent = ContinuousClock.now

    /// Starts `executable worker <arguments>`, in `environment` (nil: this process's).
    init(slot: Int, executable: URL, arguments: [String], environment: [String: String]?, onExit: @escaping @Sendable (Int32) -> Void) throws {
        self.slot = slot
        let process = Process()
        process.terminationHandler = { onExit($0.processIdentifier) }
        process.executableURL = executable
        process.arguments = ["worker"] + arguments
        if let environment { process.environment = environment }
        let toWorker = Pipe()
        let fromWorker = Pipe()
        process.standardInput = toWorker
        process.standardOutput = fromWorker
        process.standardError = FileHandle.standardError
        do {
            try process.run()
        } catch {
            throw VoxError(.unavailable, "Cannot start the worker \(executable.path): \(error.localizedDescription)")
        }
        self.process = process
        self.pid = process.processIdentifier
        self.stdinHandle = toWorker.fileHandleForWriting
        self.stdinIO = FileDescriptorIO(fd: toWorker.fileHandleForWriting.fileDescriptor)
        let reader = FileDescriptorIO(fd: fromWorker.fileHandleForReading.fileDescriptor)
        let readHandle = fromWorker.fileHandleForReading
        let thread = Thread { [self] in
            while true {
                do {
                    guard let frame = try WorkerWire.decode(read: reader.read) else {
                        self.deliver(.exited(reason: "its output closed"))
                        break
                    }
                    self.deliver(.frame(frame))
                } catch {
                    self.deliver(.exited(reason: "\(error)"))
                    break
                }
            }
            _ = readHandle  // keeps the read end open while the thread reads it
        }
        thread.name = "voxserve-worker-\(slot)-reader"
        thread.start()
    }

    private func deliver(_ event: Event) {
        let waiting: CheckedContinuation<Event, Never>? = lock.withLock {
            lastEvent = .now
            if case .exited = event { hasExited = true }
            if let waiter {
                self.waiter = nil
                return waiter
            }
            events.append(event)
            return nil
        }
        waiting?.resume(returning: event)
    }

    /// The next frame, or `.exited`. One caller at a time.
    func nextEvent() async -> Event {
        await withCheckedContinuation { continuation in
            let ready: Event? = lock.withLock {
                if !events.isEmpty { return events.removeFirst() }
                if hasExited { return .exited(reason: "it had already exited") }
                waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// The next event; when the caller is cancelled (its request timed out, its client left)
    /// first, the worker is killed, so the wait ends with `.exited` at once: a hung worker (a
    /// stopped process, a deadlocked engine) cannot be asked to stop, and must not hold its slot.
    func nextEventKillingOnCancel() async -> Event {
        await withTaskCancellationHandler {
            await nextEvent()
        } onCancel: {
            self.kill()
        }
    }

    /// The next event; a worker that sends nothing within `timeout` is killed (and reports `.exited`).
    func nextEvent(killAfter timeout: Duration) async -> Event {
        let killer = Task {
            try await Task.sleep(for: timeout)
            self.kill()
        }
        defer { killer.cancel() }
        return await nextEvent()
    }

    var isRunning: Bool { process.isRunning && !lock.withLock { hasExited } }

    /// Time since the worker last sent anything (or since it started).
    var silence: Duration { ContinuousClock.now - lock.withLock { lastEvent } }

    func send(_ frame: WorkerWire.Frame) async throws {
        let data = try WorkerWire.encode(frame)
        let io = stdinIO
        do {
            try await offload { try io.write(data) }
        } catch {
            throw VoxError(.unavailable, "The synthesis worker (pid \(pid)) is not accepting requests: \(error).")
        }
    }

    /// Asks the worker to exit, then kills it if it has not within `grace`.
    func stop(grace: Duration = .seconds(5)) async {
        try? await send(.init(.init(.shutdown)))
        try? stdinHandle.close()
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { Glibc.kill(pid, SIGKILL) }
    }

    /// Kills the worker now (a hung worker).
    func kill() {
        if process.isRunning { Glibc.kill(pid, SIGKILL) }
    }
}
