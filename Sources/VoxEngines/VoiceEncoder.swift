import Foundation
import VoxONNX
import VoxCore

/// The speaker encoder of Resemblyzer and of Chatterbox (`ve`): 16 kHz audio → a 256-d,
/// L2-normalised speaker embedding. Mel power frames are cut into partial utterances of 1.6 s,
/// each runs through a 3-layer LSTM (40 → 256), its last hidden state through Linear(256, 256)
/// and ReLU and is L2-normalised; the embedding is the normalised mean of the partials.
///
/// Immutable after loading: one encoder may embed from several threads at once.
public final class VoiceEncoder: Sendable {
    public static let sampleRate = 16000

    public let configuration: VoiceEncoderConfiguration
    /// Length of an embedding (256 for both published models).
    public let embeddingSize: Int
    private let frontEnd: MelFrontEnd
    private let layers: [LSTMLayer]
    private let projection: PackedMatrix

    /// Builds the encoder from a state dict: `lstm.{weight_ih,weight_hh,bias_ih,bias_hh}_l{n}`
    /// and `linear.{weight,bias}` (Resemblyzer) or `proj.{weight,bias}` (Chatterbox), with any
    /// common prefix. Other tensors are ignored.
    public init(weights: [String: Tensor], configuration: VoiceEncoderConfiguration = .resemblyzer) throws {
        guard let anchor = weights.keys.filter({ $0.hasSuffix("lstm.weight_ih_l0") }).min() else {
            throw VoxError.invalidModel("The speaker-encoder weights have no lstm.weight_ih_l0: this is not a Resemblyzer or Chatterbox voice encoder.")
        }
        let prefix = String(anchor.dropLast("lstm.weight_ih_l0".count))
        func tensor(_ name: String) throws -> Tensor {
            guard let t = weights[prefix + name] else {
                throw VoxError.invalidModel("The speaker-encoder weights lack \(prefix + name).")
            }
            return t
        }
        func expect(_ name: String, _ t: Tensor, _ shape: [Int]) throws {
            guard t.shape == shape else {
                throw VoxError.invalidModel("Speaker-encoder tensor \(prefix + name) has shape \(t.shape); expected \(shape).")
            }
        }
        let first = try tensor("lstm.weight_hh_l0")
        guard first.shape.count == 2, first.shape[1] > 0, first.shape[0] == 4 * first.shape[1] else {
            throw VoxError.invalidModel("Speaker-encoder tensor \(prefix)lstm.weight_hh_l0 has shape \(first.shape); expected [4·H, H].")
        }
        let hidden = first.shape[1]
        let melCount = try tensor("lstm.weight_ih_l0").shape.last ?? 0
        guard melCount > 0 else {
            throw VoxError.invalidModel("Speaker-encoder tensor \(prefix)lstm.weight_ih_l0 has no input columns.")
        }
        var layers: [LSTMLayer] = []
        while weights[prefix + "lstm.weight_ih_l\(layers.count)"] != nil {
            let l = layers.count
            let ih = try tensor("lstm.weight_ih_l\(l)"), hh = try tensor("lstm.weight_hh_l\(l)")
            let bih = try tensor("lstm.bias_ih_l\(l)"), bhh = try tensor("lstm.bias_hh_l\(l)")
            try expect("lstm.weight_ih_l\(l)", ih, [4 * hidden, l == 0 ? melCount : hidden])
            try expect("lstm.weight_hh_l\(l)", hh, [4 * hidden, hidden])
            try expect("lstm.bias_ih_l\(l)", bih, [4 * hidden])
            try expect("lstm.bias_hh_l\(l)", bhh, [4 * hidden])
            layers.append(LSTMLayer(weightIH: ih, weightHH: hh, biasIH: bih, biasHH: bhh))
        }
        let projectionName = weights[prefix + "linear.weight"] != nil ? "linear" : "proj"
        let weight = try tensor(projectionName + ".weight"), bias = try tensor(projectionName + ".bias")
        guard weight.shape.count == 2, weight.shape[1] == hidden, bias.shape == [weight.shape[0]] else {
            throw VoxError.invalidModel("Speaker-encoder projection \(prefix)\(projectionName) has shapes \(weight.shape) and \(bias.shape); expected [E, \(hidden)] and [E].")
        }
        guard configuration.partialFrames > 0, configuration.rate > 0, configuration.minCoverage > 0,
            configuration.minCoverage <= 1, configuration.batchSize > 0
        else {
            throw VoxError.invalidInput("The speaker-encoder configuration needs partialFrames, rate and batchSize above 0 and minCoverage in (0, 1].")
        }
        self.configuration = configuration
        self.layers = layers
        embeddingSize = weight.shape[0]
        projection = PackedMatrix(transposing: weight.floats(), outputs: weight.shape[0], inputs: hidden, bias: bias.floats())
        frontEnd = MelFrontEnd(melCount: melCount, scale: configuration.melScale, normalization: configuration.melNormalization, padding: configuration.padding)
    }

    /// Loads Resemblyzer's `pretrained.pt` (torch legacy format) or a safetensors file such as
    /// Chatterbox's `ve.safetensors`; the format is recognised from the file's first bytes.
    public convenience init(contentsOf url: URL, configuration: VoiceEncoderConfiguration = .resemblyzer) throws {
        let data = try mappedWeights(url)
        // A legacy torch file starts with a protocol-2 pickle (0x80 0x02); safetensors with a
        // little-endian header length followed by '{'.
        let weights: [String: Tensor]
        if data.count >= 2, data[data.startIndex] == 0x80 {
            weights = try TorchLegacyReader.read(data, source: url.path)
        } else if data.count > 8, data[data.startIndex + 8] == UInt8(ascii: "{") {
            weights = try SafetensorsReader.read(data, source: url.path)
        } else {
            throw VoxError.invalidModel("\(url.path) is neither a legacy torch checkpoint nor a safetensors file.", path: url.path)
        }
        try self.init(weights: weights, configuration: configuration)
    }

    /// The speaker embedding of 16 kHz mono audio, as it is: no volume normalisation or silence
    /// trimming (see `preprocess(_:)`). Audio shorter than one partial is zero-padded.
    public func embed(_ audio16k: [Float]) throws -> [Float] {
        let partials = try partialEmbeddings(audio16k)
        var mean = [Float](repeating: 0, count: embeddingSize)
        for p in partials {
            for j in 0..<embeddingSize { mean[j] += p[j] }
        }
        guard let embedding = Self.normalized(mean) else {
            throw VoxError.invalidAudio("The reference audio gave no speaker features (it is probably silent); use a recording of speech.")
        }
        return embedding
    }

    /// The speaker embedding of `audio`, which must already be 16 kHz.
    public func embed(_ audio: AudioBuffer) throws -> [Float] {
        guard audio.sampleRate == Self.sampleRate else {
            throw VoxError.invalidAudio("The speaker encoder needs 16000 Hz audio; this reference is \(audio.sampleRate) Hz. Resample it first.")
        }
        return try embed(audio.samples)
    }

    /// The L2-normalised embedding of each partial utterance, in order. A partial whose
    /// projection is all zeros after ReLU is returned as zeros (PyTorch would give NaN).
    public func partialEmbeddings(_ audio16k: [Float]) throws -> [[Float]] {
        guard !audio16k.isEmpty else {
            throw VoxError.invalidAudio("The reference audio is empty; give at least a second of speech.")
        }
        guard audio16k.allSatisfy(\.isFinite) else {
            throw VoxError.invalidAudio("The reference audio contains NaN or infinite samples.")
        }
        let plan = configuration.partialPlan(sampleCount: audio16k.count)
        let mel = frontEnd.melFrames(audio16k, paddedCount: plan.paddedSampleCount, frameCount: plan.frameCount)
        var result: [[Float]] = []
        var first = 0
        while first < plan.starts.count {
            let batch = Array(plan.starts[first..<min(plan.starts.count, first + configuration.batchSize)])
            result += embedPartials(mel, starts: batch)
            first += batch.count
        }
        return result
    }

    /// Cosine similarity of two embeddings (their dot product when both are unit length);
    /// 0 when either is all zeros or their lengths differ.
    public static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count, !a.isEmpty else { return 0 }
        var dot: Double = 0, na: Double = 0, nb: Double = 0
        for i in 0..<a.count {
            dot += Double(a[i]) * Double(b[i])
            na += Double(a[i]) * Double(a[i])
            nb += Double(b[i]) * Double(b[i])
        }
        guard na > 0, nb > 0 else { return 0 }
        return Float(dot / (na.squareRoot() * nb.squareRoot()))
    }

    // MARK: - network

    /// Runs partials (starting at the given mel frames) through the LSTM stack and the
    /// projection, batched: every LSTM step is one [batch × H]·[H × 4H] product.
    private func embedPartials(_ mel: [Float], starts: [Int]) -> [[Float]] {
        let batch = starts.count
        let steps = configuration.partialFrames
        let melCount = frontEnd.melCount
        let hidden = layers[0].hiddenSize
        // Partials overlap in the mel spectrogram: gather each into its own [steps × mels] block.
        var sequence = [Float](repeating: 0, count: batch * steps * melCount)
        for (b, start) in starts.enumerated() {
            sequence.replaceSubrange(b * steps * melCount..<(b + 1) * steps * melCount, with: mel[start * melCount..<(start + steps) * melCount])
        }
        var gates = [Float](repeating: 0, count: batch * steps * 4 * hidden)
        var last = [Float](repeating: 0, count: batch * hidden)
        for (l, layer) in layers.enumerated() {
            let isLast = l == layers.count - 1
            // Every step's hidden state feeds the next layer; the last layer keeps only its final one.
            var outputs = [Float](repeating: 0, count: isLast ? 0 : batch * steps * hidden)
            sequence.withUnsafeBufferPointer { x in
                gates.withUnsafeMutableBufferPointer { g in
                    last.withUnsafeMutableBufferPointer { h in
                        outputs.withUnsafeMutableBufferPointer { out in
                            layer.project(x.baseAddress!, rows: batch * steps, into: g.baseAddress!)
                            layer.run(gates: g.baseAddress!, batch: batch, steps: steps, outputs: isLast ? nil : out.baseAddress!, hidden: h.baseAddress!)
                        }
                    }
                }
            }
            sequence = outputs
        }
        var projected = [Float](repeating: 0, count: batch * embeddingSize)
        last.withUnsafeBufferPointer { last in
            projected.withUnsafeMutableBufferPointer { out in
                projection.multiply(last.baseAddress!, aStride: hidden, rowCount: batch, into: out.baseAddress!, cStride: embeddingSize, start: .bias)
            }
        }
        return (0..<batch).map { b in
            let row = projected[b * embeddingSize..<(b + 1) * embeddingSize].map { max(0, $0) }
            return Self.normalized(row) ?? row
        }
    }

    /// `v / ‖v‖`, or nil when `v` is all zeros.
    static func normalized(_ v: [Float]) -> [Float]? {
        let norm = v.reduce(Double(0)) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm > 0, norm.isFinite else { return nil }
        return v.map { Float(Double($0) / norm) }
    }
}
