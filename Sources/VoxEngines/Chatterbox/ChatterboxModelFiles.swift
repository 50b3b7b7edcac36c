import Foundation
import VoxCore
import VoxONNX

/// The files of a Chatterbox ONNX export in one folder, laid out as Resemble AI publishes it: the
/// graphs in `onnx/` (or in the folder itself), each beside its `.onnx_data`, and the tokenizer at
/// the top. Finds which precision variants exist for each graph and which one is chosen.
public struct ChatterboxModelFiles: Sendable, Equatable {
    /// The four graphs of a Chatterbox export, in the order they run.
    public static let components: [ModelComponentID] = [.speechEncoder, .embedTokens, .languageModel, .conditionalDecoder]

    /// The model folder (holds the tokenizer).
    public let directory: URL
    /// Where the graphs are: `directory/onnx` when it exists, else `directory`.
    public let graphDirectory: URL
    /// Variants found per graph, most precise first (`ModelPrecision.allCases` order), with the file name each has.
    public let available: [ModelComponentID: [ModelPrecision: String]]
    /// The variant used per graph.
    public private(set) var selection: [ModelComponentID: ModelPrecision]

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
        var found: [ModelComponentID: [ModelPrecision: String]] = [:]
        for component in Self.components {
            for precision in ModelPrecision.allCases {
                if let name = precision.fileNames(for: component).first(where: names.contains) { found[component, default: [:]][precision] = name }
            }
        }
        let missing = Self.components.filter { found[$0]?.isEmpty ?? true }
        guard missing.isEmpty else {
            throw VoxError(
                .modelNotFound,
                "\(graphDirectory.path) lacks \(missing.map { $0.rawValue + ".onnx" }.joined(separator: ", ")) (in any precision). Download the four graphs of ResembleAI/chatterbox-turbo-ONNX (see docs/chatterbox.md).",
                detail: graphDirectory.path)
        }
        available = found
        selection = found.mapValues { files in ModelPrecision.allCases.first { files[$0] != nil }! }
    }

    /// The variants that exist for `component`, most precise first.
    public func variants(for component: ModelComponentID) -> [ModelPrecision] {
        ModelPrecision.allCases.filter { available[component]?[$0] != nil }
    }

    /// The file name of `component` in `precision` (the one on disk when there is one).
    public func fileName(of component: ModelComponentID, precision: ModelPrecision) -> String {
        available[component]?[precision] ?? precision.fileNames(for: component)[0]
    }

    /// Chooses `precision` for `component`; throws `.modelNotFound` when that file is absent.
    public mutating func select(_ precision: ModelPrecision, for component: ModelComponentID) throws {
        guard variants(for: component).contains(precision) else {
            let name = fileName(of: component, precision: precision)
            throw VoxError(
                .modelNotFound,
                "\(name) is not in \(graphDirectory.path); available: \(variants(for: component).map(\.rawValue).joined(separator: ", ")).",
                detail: graphDirectory.appendingPathComponent(name).path)
        }
        selection[component] = precision
    }

    /// These files with `choices` applied (graphs not named keep their current variant).
    public func selecting(_ choices: [ModelComponentID: ModelPrecision]) throws -> ChatterboxModelFiles {
        var copy = self
        for (component, precision) in choices.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            try copy.select(precision, for: component)
        }
        return copy
    }

    /// The chosen file of `component`.
    public func url(for component: ModelComponentID) -> URL {
        graphDirectory.appendingPathComponent(fileName(of: component, precision: selection[component]!))
    }

    /// Bytes of a variant's graph and its external data on disk (nil when unknown).
    public func byteCount(of component: ModelComponentID, precision: ModelPrecision) -> UInt64? {
        let url = graphDirectory.appendingPathComponent(fileName(of: component, precision: precision))
        var total: UInt64 = 0
        for file in [url, URL(fileURLWithPath: url.path + "_data")] {
            if let size = (try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? NSNumber { total += size.uint64Value }
        }
        return total > 0 ? total : nil
    }

    /// Identifies a graph file (`ModelFingerprint`), so a changed or re-downloaded model gets new cache keys.
    public func fingerprint(of component: ModelComponentID) -> String {
        ModelFingerprint.of(url(for: component))
    }

    /// A fingerprint of all four chosen graphs.
    public var fingerprint: String {
        ModelFingerprint.of(Self.components.map(url(for:)))
    }
}
