import Foundation
import Logging

/// Announces the Wyoming service over mDNS (`_wyoming._tcp`, as the `wyoming` library's
/// zeroconf does) so Home Assistant discovers it, through Debian's avahi-utils
/// (`avahi-publish-service`, which needs a running avahi-daemon). Without them the server runs
/// all the same and says how to add it by hand.
///
/// Thread safety: `process` is set once in `start` and only read afterwards.
final class ZeroconfAnnouncement: Sendable {
    static let tool = "avahi-publish-service"
    static let serviceType = "_wyoming._tcp"

    private let process: Process

    private init(process: Process) {
        self.process = process
    }

    /// The announcement's name: "VoxServe on HOST".
    static var serviceName: String {
        "VoxServe on \(ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost")"
    }

    /// Where `tool` is on `searchPath` (a `PATH` value), if anywhere.
    static func locate(searchPath: String?) -> URL? {
        for folder in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let url = URL(fileURLWithPath: String(folder)).appendingPathComponent(tool)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    /// Starts announcing `port`, or logs why it cannot and returns nil.
    static func start(
        port: Int, name: String = serviceName, searchPath: String? = ProcessInfo.processInfo.environment["PATH"], logger: Logger
    ) -> ZeroconfAnnouncement? {
        guard let executable = locate(searchPath: searchPath) else {
            logger.warning(
                "--wyoming-zeroconf: \(tool) is not installed (Debian: apt install avahi-utils avahi-daemon). Home Assistant can still add this server by host and port \(port).")
            return nil
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["-s", name, serviceType, String(port)]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.terminationHandler = { finished in
            guard finished.terminationReason == .exit, finished.terminationStatus != 0 else { return }
            let why = String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            logger.warning(
                "--wyoming-zeroconf: \(tool) stopped (\(why.isEmpty ? "status \(finished.terminationStatus)" : why)); is avahi-daemon running? Home Assistant can still add this server by host and port \(port).")
        }
        do {
            try process.run()
        } catch {
            logger.warning("--wyoming-zeroconf: cannot start \(executable.path): \(error.localizedDescription)")
            return nil
        }
        logger.info("Wyoming announced over mDNS", metadata: ["vox.zeroconf": "\(name) \(serviceType) \(port)"])
        return ZeroconfAnnouncement(process: process)
    }

    var isRunning: Bool { process.isRunning }

    /// True once the announcer has ended by a signal (stopped by `stop()`), not by exiting itself.
    var endedBySignal: Bool { !process.isRunning && process.terminationReason == .uncaughtSignal }

    /// Withdraws the announcement: SIGTERM, then SIGKILL after `grace`. (The server's signal
    /// handling leaves SIGTERM ignored, and a child inherits that, so SIGTERM alone may not do.)
    func stop(grace: Duration = .seconds(2)) async {
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { try? await Task.sleep(for: .milliseconds(5)) }
    }
}
