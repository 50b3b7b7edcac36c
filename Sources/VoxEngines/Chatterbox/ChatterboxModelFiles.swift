import Foundation
import VoxCore

/// The files of a Chatterbox ONNX export in one folder, laid out as Resemble AI publishes it: the
/// graphs in `onnx/` (or in the folder itself), each beside its `.onnx_data`, and the tokenizer at
/// the top. Finds which precision variants exist for each graph and which one is chosen.
public struct ChatterboxModelFiles: Sendable, Equatable {
    /// The model folder (holds the tokenizer).
    public let directory: URL
    /// Where the graphs are: `directory/onnx` when it exists, else `directory`.
    public let graphDirectory: URL
    /// Variants found per graph, fp32 first.
    public let available: [ChatterboxComponent: [ChatterboxPrecision]]
    /// The variant used per graph.
    public private(set) var selection: [ChatterboxComponent: ChatterboxPrecision]

    /// Looks at `directory`; chooses fp32 for every graph that has it, else its first variant.
    /// Throws `.modelNotFound` naming the graphs that are missing.
    public init(directory: URL) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw VoxError(
                .modelNotFound,
                "Chatterbox model folder not found: \(directory.path). Download ResembleAI/chatterbox-turbo-ONNX into it (see docs/chatterbox.md).",
                detail: directory.path)
        }
        self.directory = directory
        let onnx = directory.appendingPathComponent("onnx")
        graphDirectory = fm.fileExists(atPath: onnx.path, isDirectory: &isDirectory) && isDirectory.boolValue ? onnx : directory
        let names = Set((try? fm.contentsOfDirectory(atPath: graphDirectory.path)) ?? [])
        var found: [ChatterboxComponent: [ChatterboxPrecision]] = [:]
        for component in ChatterboxComponent.allCases {
            found[component] = ChatterboxPrecision.allCases.filter { names.contains($0.fileName(for: component)) }
        }
        let missing = ChatterboxComponent.allCases.filter { found[$0]!.isEmpty }
        guard missing.isEmpty else {
            throw VoxError(
                .modelNotFound,
                "\(graphDirectory.path) lacks \(missing.map { $0.rawValue + ".onnx" }.joined(separator: ", ")) (in any precision). Download the four graphs of ResembleAI/chatterbox-turbo-ONNX (see docs/chatterbox.md).",
                detail: graphDirectory.path)
        }
        available = found
        selection = found.mapValues { $0.contains(.fp32) ? .fp32 : $0[0] }
    }

    /// The variants that exist for `component`, fp32 first.
    public func variants(for component: ChatterboxComponent) -> [ChatterboxPrecision] {
        available[component] ?? []
    }

    /// Chooses `precision` for `component`; throws `.modelNotFound` when that file is absent.
    public mutating func select(_ precision: ChatterboxPrecision, for component: ChatterboxComponent) throws {
        guard variants(for: component).contains(precision) else {
            throw VoxError(
                .modelNotFound,
                "\(precision.fileName(for: component)) is not in \(graphDirectory.path); available: \(variants(for: component).map(\.rawValue).joined(separator: ", ")).",
                detail: graphDirectory.appendingPathComponent(precision.fileName(for: component)).path)
        }
        selection[component] = precision
    }

    /// These files with `choices` applied (graphs not named keep their current variant).
    public func selecting(_ choices: [ChatterboxComponent: ChatterboxPrecision]) throws -> ChatterboxModelFiles {
        var copy = self
        for (component, precision) in choices.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            try copy.select(precision, for: component)
        }
        return copy
    }

    /// The chosen file of `component`.
    public func url(for component: ChatterboxComponent) -> URL {
        graphDirectory.appendingPathComponent(selection[component]!.fileName(for: component))
    }

    /// Bytes of a variant's graph and its external data on disk (nil when unknown).
    public func byteCount(of component: ChatterboxComponent, precision: ChatterboxPrecision) -> UInt64? {
        let url = graphDirectory.appendingPathComponent(precision.fileName(for: component))
        var total: UInt64 = 0
        for file in [url, URL(fileURLWithPath: url.path + "_data")] {
            if let size = (try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? NSNumber { total += size.uint64Value }
        }
        return total > 0 ? total : nil
    }

    /// Identifies a graph file by name, size, modification time and a digest of its first 64 KiB
    /// (and the size of its `.onnx_data`), so a changed or re-downloaded model gets new cache keys.
    public func fingerprint(of component: ChatterboxComponent) -> String {
        var hash = FNV1a()
        let url = url(for: component)
        hash.add(url.lastPathComponent)
        for file in [url, URL(fileURLWithPath: url.path + "_data")] {
            let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
            hash.add("\((attributes?[.size] as? NSNumber)?.int64Value ?? -1)")
            hash.add("\((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)")
        }
        if let handle = try? FileHandle(forReadingFrom: url) {
            hash.add(handle.readData(ofLength: 65_536))
            try? handle.close()
        }
        return hash.hex
    }

    /// A fingerprint of all four chosen graphs.
    public var fingerprint: String {
        var hash = FNV1a()
        for component in ChatterboxComponent.allCases { hash.add(fingerprint(of: component)) }
        return hash.hex
    }
}
