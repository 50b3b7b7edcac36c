import Foundation

/// What /proc/cpuinfo says, parsed from its text so that fixtures can stand in for a machine.
public struct ProcCPUInfo: Sendable, Equatable {
    public var modelName: String
    public var vendor: String?
    /// `processor` blocks: the logical CPUs online.
    public var logicalCores: Int
    /// Distinct (physical id, core id) pairs; when a hypervisor hides them, `cpu cores` per socket,
    /// and failing that the logical count.
    public var physicalCores: Int
    /// The flags of the first processor block (x86 `flags`, Arm `Features`).
    public var flags: [String]

    public init(modelName: String, vendor: String?, logicalCores: Int, physicalCores: Int, flags: [String]) {
        self.modelName = modelName
        self.vendor = vendor
        self.logicalCores = logicalCores
        self.physicalCores = physicalCores
        self.flags = flags
    }

    /// Parses the text of /proc/cpuinfo.
    public init(parsing text: String) {
        var blocks: [[String: String]] = []
        var current: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty {
                if !current.isEmpty { blocks.append(current) }
                current = [:]
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            // a new "processor" key without a blank line still starts a new block
            if key == "processor", current["processor"] != nil {
                blocks.append(current)
                current = [:]
            }
            current[key] = value
        }
        if !current.isEmpty { blocks.append(current) }

        let processors = blocks.filter { $0["processor"].map { Int($0) != nil } ?? false }
        let first = processors.first ?? blocks.first ?? [:]
        let logical = max(processors.count, 1)

        var pairs = Set<String>()
        var socketCores: [String: Int] = [:]
        for block in processors {
            if let socket = block["physical id"], let core = block["core id"] { pairs.insert("\(socket)/\(core)") }
            if let socket = block["physical id"], let cores = block["cpu cores"].flatMap({ Int($0) }) { socketCores[socket] = cores }
        }
        let physical: Int
        if !pairs.isEmpty {
            physical = pairs.count
        } else if !socketCores.isEmpty {
            physical = socketCores.values.reduce(0, +)
        } else {
            physical = logical
        }

        // x86 has "model name"; Arm kernels print "Processor", "Hardware" or only "CPU part".
        let name = first["model name"] ?? first["processor name"] ?? blocks.compactMap { $0["hardware"] }.first
            ?? first["cpu part"].map { "CPU part \($0)" } ?? "unknown CPU"
        let flagText = first["flags"] ?? first["features"] ?? ""
        self.init(
            modelName: name, vendor: first["vendor_id"] ?? first["cpu implementer"].map { "implementer \($0)" },
            logicalCores: logical, physicalCores: min(physical, logical),
            flags: flagText.split(separator: " ").map(String.init)
        )
    }
}
