import CONNXRuntime
import Foundation

/// Where ONNX Runtime placed a session's nodes, read from what it logs while creating the session
/// (`VerifyEachNodeIsAssignedToAnEp` at VERBOSE: "All nodes placed on [CUDAExecutionProvider].
/// Number of nodes: 20", or " Node(s) placed on [CPUExecutionProvider]. Number of nodes: 3"
/// followed by the nodes; `MemcpyTransformer` at WARNING: "3 Memcpy nodes are added to the graph
/// main_graph for CUDAExecutionProvider"). A CUDA session with nodes on the CPU runs partly on the
/// host and copies between them: this says so instead of calling it "CUDA".
public struct SessionPlacement: Sendable, Equatable, Codable {
    /// Nodes per execution provider ("CUDAExecutionProvider": 140), subgraphs included.
    public var nodesByProvider: [String: Int]
    /// Operator types of the nodes placed on the CPU while another provider was preferred
    /// ("Shape", "Gather"), at most 20, for the report.
    public var cpuOperators: [String]
    /// MemcpyToHost/MemcpyFromHost nodes: copies between device and host inside one run.
    public var memcpyNodes: Int
    /// ONNX Runtime's warnings during creation ("Some nodes were not assigned to the preferred
    /// execution providers…"), deduplicated.
    public var warnings: [String]

    public init(nodesByProvider: [String: Int] = [:], cpuOperators: [String] = [], memcpyNodes: Int = 0, warnings: [String] = []) {
        self.nodesByProvider = nodesByProvider
        self.cpuOperators = cpuOperators
        self.memcpyNodes = memcpyNodes
        self.warnings = warnings
    }

    public var totalNodes: Int { nodesByProvider.values.reduce(0, +) }

    /// Nodes on `provider`.
    public func nodes(on provider: ExecutionProvider) -> Int { nodesByProvider[provider.onnxRuntimeName] ?? 0 }

    /// True when the log said nothing about placement (the lines were not seen).
    public var isEmpty: Bool { nodesByProvider.isEmpty }

    /// "140 of 143 nodes on CUDA, 3 on CPU (Shape, Gather), 2 Memcpy nodes".
    public var summary: String {
        guard !isEmpty else { return "placement not reported" }
        let total = totalNodes
        var parts: [String] = []
        for (provider, count) in nodesByProvider.sorted(by: { $0.value > $1.value }) {
            let name = provider.replacingOccurrences(of: "ExecutionProvider", with: "")
            parts.append(parts.isEmpty ? "\(count) of \(total) nodes on \(name)" : "\(count) on \(name)")
        }
        var text = parts.joined(separator: ", ")
        if !cpuOperators.isEmpty, nodesByProvider.count > 1 { text += " (CPU: \(cpuOperators.joined(separator: ", ")))" }
        text += memcpyNodes == 0 ? ", no Memcpy nodes" : ", \(memcpyNodes) Memcpy node\(memcpyNodes == 1 ? "" : "s")"
        return text
    }

    /// Reads ONNX Runtime's log lines of one session's creation.
    public static func parse(_ lines: [String]) -> SessionPlacement {
        var result = SessionPlacement()
        var listing: String?
        var memcpyListed = 0
        var memcpyAdded = 0
        var cpuOperators: [String] = []
        for line in lines {
            if let (provider, count) = header(line, marker: "All nodes placed on [") {
                result.nodesByProvider[provider, default: 0] += count
                listing = nil
            } else if let (provider, count) = header(line, marker: "Node(s) placed on [") {
                result.nodesByProvider[provider, default: 0] += count
                listing = provider
            } else if line.contains("Memcpy nodes are added to the graph") {
                let number = line.split(separator: " ").first { Int($0) != nil }.flatMap { Int($0) } ?? 0
                memcpyAdded += number
                remember(line, in: &result.warnings)
            } else if let provider = listing, line.hasPrefix("  "), let opType = line.split(separator: " ").first {
                // "   MemcpyFromHost (Memcpy)": one node of the block above.
                if opType.hasPrefix("Memcpy") { memcpyListed += 1 }
                if provider == ExecutionProvider.cpu.onnxRuntimeName, cpuOperators.count < 20, !cpuOperators.contains(String(opType)) {
                    cpuOperators.append(String(opType))
                }
            } else {
                listing = nil
                if line.contains("not assigned to the preferred execution providers") { remember(line, in: &result.warnings) }
            }
        }
        result.memcpyNodes = max(memcpyListed, memcpyAdded)
        result.cpuOperators = cpuOperators
        return result
    }

    private static func header(_ line: String, marker: String) -> (String, Int)? {
        guard let start = line.range(of: marker) else { return nil }
        let rest = line[start.upperBound...]
        guard let close = rest.firstIndex(of: "]") else { return nil }
        let provider = String(rest[..<close])
        guard let colon = rest.range(of: "Number of nodes:") else { return nil }
        let count = Int(rest[colon.upperBound...].trimmingCharacters(in: .whitespaces)) ?? 0
        return (provider, count)
    }

    private static func remember(_ line: String, in warnings: inout [String]) {
        let text = line.trimmingCharacters(in: .whitespaces)
        if !warnings.contains(text) { warnings.append(text) }
    }
}

/// Receives every ONNX Runtime log message (the environment is created with a custom logger) and
/// keeps the lines of sessions being created with `recordPlacement`, by their session log id.
/// Messages of other loggers at ERROR or above go to standard error as ONNX Runtime prints them.
///
/// Thread-safety: all state is behind `lock`; ONNX Runtime may log from any thread.
final class ONNXLogCollector: @unchecked Sendable {
    static let shared = ONNXLogCollector()

    private let lock = NSLock()
    private var next = 0
    private var open: [String: [String]] = [:]

    /// True while some session is being recorded: below ERROR, nothing else is wanted, so the
    /// callback returns before converting any text (recorded sessions keep logging at VERBOSE).
    var isRecording: Bool {
        lock.lock()
        defer { lock.unlock() }
        return !open.isEmpty
    }

    /// A new log id whose lines are kept until `end`.
    func begin() -> String {
        lock.lock()
        defer { lock.unlock() }
        next += 1
        let id = "voxserve-session-\(next)"
        open[id] = []
        return id
    }

    /// The lines logged under `id`, which is forgotten.
    func end(_ id: String) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return open.removeValue(forKey: id) ?? []
    }

    func receive(severity: Int, logID: String, location: String, message: String) {
        lock.lock()
        let kept = open[logID] != nil
        if kept { open[logID]!.append(message) }
        lock.unlock()
        // Recorded sessions log at VERBOSE on purpose; only their errors also go to standard error.
        if severity >= 3 {
            let letter = ["V", "I", "W", "E", "F"][min(max(severity, 0), 4)]
            FileHandle.standardError.write(Data("[\(letter):onnxruntime:\(logID), \(location)] \(message)\n".utf8))
        }
    }

    /// The C callback given to `CreateEnvWithCustomLogger`.
    static let callback: OrtLoggingFunction = { _, severity, _, logID, location, message in
        if Int(severity.rawValue) < 3, !ONNXLogCollector.shared.isRecording { return }
        ONNXLogCollector.shared.receive(
            severity: Int(severity.rawValue), logID: logID.map { String(cString: $0) } ?? "",
            location: location.map { String(cString: $0) } ?? "", message: message.map { String(cString: $0) } ?? "")
    }
}

/// An engine that can say where ONNX Runtime placed its graphs' nodes, by graph name.
public protocol SessionPlacementReporting {
    var sessionPlacements: [String: SessionPlacement] { get }
}
