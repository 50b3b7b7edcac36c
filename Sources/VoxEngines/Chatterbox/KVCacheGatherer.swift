import Foundation
import VoxCore
import VoxONNX

/// `KVCachePositions.gather` for a cache that lives on the language model's device: the same
/// copy, done by a small graph (Transpose, Flatten, Concat, Gather, Reshape) that runs on the
/// model's own execution provider with IO binding, so a KV cache in GPU memory is repacked in GPU
/// memory. Without it, a batch on CUDA would bring its whole cache to the host and back whenever a
/// row joins or leaves, or run every step without IO binding.
///
/// One graph per element type and geometry, built in Swift (`ONNXGraph`) at first use. Each call gathers from
/// at most two cache values (a batch and its newcomer) and zero padding:
///
///     out[r, h, t, :] = source(r, t)[row, h, position, :]   or 0 left of the row's positions
///
/// Thread-safety: sessions and zero rows are made once behind a lock; ONNX Runtime runs a session
/// from several threads at once, and each call has its own IO binding.
final class KVCacheGatherer: @unchecked Sendable {
    let runtime: ONNXRuntime
    /// The language model's session options (its provider and device), for the graphs' sessions.
    let options: SessionOptions
    /// Where the gathered values are put: the device the language model keeps its cache on.
    let device: ONNXIOBinding.Device
    /// A graph for each element type and cache geometry seen (one, in practice).
    private struct Key: Hashable {
        var type: TensorElementType
        var heads: Int
        var dim: Int
    }
    private let sessions = Locked<[Key: (session: ONNXSession, zero: ONNXValue)]>([:])
    private let runs = Locked(0)
    /// Gathers run so far (one per cache tensor), for tests and logs.
    var gathers: Int { runs.get() }

    init(languageModel: ONNXSession, device: ONNXIOBinding.Device) {
        runtime = languageModel.runtime
        var options = languageModel.options
        options.optimizedModelPath = nil
        options.recordPlacement = false
        options.cudaGraph = false
        self.options = options
        self.device = device
    }

    /// As `KVCachePositions.gather`: a new value [pieces.count, heads, length, dim] whose row r holds
    /// `pieces[r]`'s positions right-aligned after zero padding, on `device`. The pieces may come
    /// from at most two distinct values, on the host or on the device.
    func gather(_ pieces: [KVCachePositions.Piece], length: Int, like template: ONNXValue, name: String) throws -> ONNXValue {
        let type = template.elementType
        var sources: [ONNXValue] = []
        for piece in pieces where piece.count > 0 {
            guard let value = piece.value, value.elementType == type, value.shape.count == 4 else {
                throw VoxError.invalidModel("The Chatterbox KV cache \(name) changed element type or rank between rows.")
            }
            if !sources.contains(where: { $0 === value }) { sources.append(value) }
        }
        guard sources.count <= 2 else {
            throw VoxError.engineFailure("Internal: a KV cache gather from \(sources.count) values; at most 2 are supported.")
        }
        guard template.shape.count == 4 else {
            throw VoxError.invalidModel("The Chatterbox KV cache \(name) has shape \(template.shape); expected [rows, heads, positions, dim].")
        }
        let (session, zero) = try resources(for: Key(type: type, heads: template.shape[1], dim: template.shape[3]))
        let a = sources.first ?? zero
        let b = sources.count > 1 ? sources[1] : zero
        let zeroIndex = Int64(a.shape[0] * a.shape[2] + (sources.count > 1 ? b.shape[0] * b.shape[2] : 1))
        var index = [Int64](repeating: zeroIndex, count: pieces.count * length)
        for (r, piece) in pieces.enumerated() where piece.count > 0 {
            let value = piece.value!
            let base = value === a ? 0 : Int64(a.shape[0] * a.shape[2])
            let positions = value.shape[2]
            for i in 0..<piece.count {
                index[r * length + length - piece.count + i] = base + Int64(piece.row * positions + piece.start + i)
            }
        }
        let binding = try ONNXIOBinding(session: session)
        try binding.bind(input: "a", a)
        try binding.bind(input: "b", b)
        try binding.bind(input: "zero", zero)
        try binding.bind(input: "index", try ONNXValue(Tensor(int64: index, shape: [pieces.count, length]), runtime: runtime))
        try binding.bind(output: "out", on: device)
        do {
            guard let out = try binding.run()["out"] else {
                throw VoxError.engineFailure("The KV cache gather graph returned nothing for \(name).")
            }
            runs.withLock { $0 += 1 }
            return out
        } catch let error as ONNXRuntimeError {
            throw VoxError.engineFailure("The KV cache gather for \(name) failed: \(error.message)", detail: error.description)
        }
    }

    private func resources(for key: Key) throws -> (session: ONNXSession, zero: ONNXValue) {
        try sessions.withLock { sessions in
            if let made = sessions[key] { return made }
            let graph = Self.graph(type: key.type, heads: key.heads, dim: key.dim)
            let session = try ONNXSession(
                modelData: graph.serialized(), name: "kv-cache-gather-\(key.type.rawValue)", options: options, runtime: runtime)
            let zero = try ONNXValue(zerosOf: key.type, shape: [1, key.heads, 1, key.dim], runtime: runtime) { _ in }
            sessions[key] = (session, zero)
            return (session, zero)
        }
    }

    /// The gather graph: the two sources and the zero row, each [rows, heads, positions, dim], as
    /// one list of positions [Σ rows × positions, heads × dim]; `index` [rows, length] picks from
    /// it; the result goes back to [rows, heads, length, dim].
    static func graph(type: TensorElementType, heads: Int, dim: Int) -> ONNXGraph {
        var nodes: [ONNXGraph.Node] = []
        var inputs: [ONNXGraph.Value] = []
        for source in ["a", "b", "zero"] {
            inputs.append(.init(source, type, [.named("\(source)_rows"), .fixed(heads), .named("\(source)_positions"), .fixed(dim)]))
            nodes.append(.init("Transpose", [source], ["\(source)_t"], intLists: ["perm": [0, 2, 1, 3]]))
            nodes.append(.init("Flatten", ["\(source)_t"], ["\(source)_flat"], ints: ["axis": 2]))
        }
        inputs.append(.init("index", .int64, ["rows", "length"]))
        nodes += [
            .init("Concat", ["a_flat", "b_flat", "zero_flat"], ["all"], ints: ["axis": 0]),
            .init("Gather", ["all", "index"], ["picked"], ints: ["axis": 0]),
            .init("Reshape", ["picked", "shape"], ["unflat"]),
            .init("Transpose", ["unflat"], ["out"], intLists: ["perm": [0, 2, 1, 3]]),
        ]
        return ONNXGraph(
            name: "kv_cache_gather", inputs: inputs, outputs: [.init("out", type, ["rows", .fixed(heads), "length", .fixed(dim)])], nodes: nodes,
            int64Initializers: [("shape", [4], [0, 0, Int64(heads), Int64(dim)])])
    }
}
