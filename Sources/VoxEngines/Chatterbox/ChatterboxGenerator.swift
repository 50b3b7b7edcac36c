import Foundation
import VoxCore
import VoxONNX

/// Generates one sentence's speech tokens step by step: embed_tokens, then the language model with
/// its KV cache, then the sampler. Step 0 feeds the voice conditioning followed by the text; every
/// later step feeds the token chosen before. With classifier-free guidance (the original model),
/// each run has two rows, the second with the text's embeddings zeroed, and the logits are
/// `cond + w·(cond − uncond)`.
///
/// The KV cache stays in ONNX Runtime: each step's `present.*` values are fed back as the next
/// step's `past_key_values.*` without a copy into Swift; only the last position's logits come out.
///
/// Thread-safety: one task drives a generator at a time (the engine hands each request its own);
/// it holds no lock, so it is `@unchecked Sendable` only to move between that task and `offload`.
final class ChatterboxGenerator: @unchecked Sendable {
    static let startToken = 6561
    static let stopToken = 6562
    static let exaggerationToken = 6563

    let embedTokens: ONNXSession
    let languageModel: ONNXSession
    let layout: ChatterboxModelLayout
    let sampler: TokenSampler
    let maxNewTokens: Int
    let cfgWeight: Float
    let exaggeration: Float
    let batch: Int
    /// Where IO binding keeps the KV cache (the language model's device), nil without IO binding.
    let cacheDevice: ONNXIOBinding.Device?

    private let conditioning: ChatterboxConditioning
    private let promptIDs: [Int]
    private var rng: SeededGenerator
    private var history: Set<Int> = [ChatterboxGenerator.startToken]
    private var past: [String: ONNXValue] = [:]
    /// The element type each `past_key_values.*` input declares (float16 in fp16 exports).
    private let pastTypes: [String: TensorElementType]
    private var pastLength = 0
    /// The language model's IO binding, made at the first step and reused.
    private var binding: ONNXIOBinding?
    private(set) var tokens: [Int] = []
    private(set) var cacheLengths: [Int] = []
    private(set) var stoppedAtStopToken = false
    private(set) var isFinished = false
    private(set) var prefixLength = 0

    /// `textIDs` are the tokenizer's ids for the sentence.
    init(
        embedTokens: ONNXSession, languageModel: ONNXSession, layout: ChatterboxModelLayout, conditioning: ChatterboxConditioning,
        textIDs: [Int], options: ChatterboxOptions, seed: UInt64
    ) {
        self.embedTokens = embedTokens
        self.languageModel = languageModel
        self.layout = layout
        self.conditioning = conditioning
        self.sampler = options.sampler
        self.maxNewTokens = max(1, options.maxNewTokens)
        self.cfgWeight = options.cfgWeight
        self.exaggeration = options.exaggeration
        self.batch = layout.flavor == .original && options.cfgWeight > 0 && layout.lmAcceptsBatchOfTwo ? 2 : 1
        if options.ioBinding {
            if languageModel.options.provider == .cuda {
                cacheDevice = .cuda(deviceID: languageModel.options.deviceID)
            } else {
                cacheDevice = .cpu
            }
        } else {
            cacheDevice = nil
        }
        self.rng = SeededGenerator(seed: seed)
        var pastTypes: [String: TensorElementType] = [:]
        for name in layout.pastNames {
            pastTypes[name] = languageModel.input(named: name)?.elementType ?? layout.kvType
        }
        self.pastTypes = pastTypes
        if layout.flavor == .original {
            // The original export's embedder reads [exaggeration slot] text… [start of speech]; the
            // tokenizer's template may already have put them there.
            var ids = textIDs
            if ids.first != Self.exaggerationToken { ids.insert(Self.exaggerationToken, at: 0) }
            if ids.last != Self.startToken { ids.append(Self.startToken) }
            promptIDs = ids
        } else {
            promptIDs = textIDs
        }
    }

    /// Runs steps until `count` more tokens exist or generation ends; returns the new speech tokens
    /// (never the stop token).
    func run(atMost count: Int) throws -> [Int] {
        var new: [Int] = []
        while !isFinished, new.count < count {
            if let token = try step() { new.append(token) }
        }
        return new
    }

    /// One language-model run. Returns the new speech token, or nil when it was the stop token.
    func step() throws -> Int? {
        precondition(!isFinished, "generation already finished")
        let first = tokens.isEmpty && pastLength == 0
        let embeds: [Float]
        let length: Int
        if first {
            let text = try embed(ids: promptIDs, positions: Self.promptPositions(promptIDs))
            var rows: [Float] = []
            let cond = try conditioning.audioFeatures.converted(to: .float32).floats()
            let hidden = conditioning.hiddenSize
            let textLength = promptIDs.count
            for b in 0..<batch {
                rows += cond
                var row = Array(text[(b * textLength * hidden)..<((b + 1) * textLength * hidden)])
                if b == 1 {
                    // Unconditional row: the text says nothing.
                    for (t, id) in promptIDs.enumerated() where id < Self.startToken {
                        for h in 0..<hidden { row[t * hidden + h] = 0 }
                    }
                }
                rows += row
            }
            embeds = rows
            length = conditioning.length + textLength
            prefixLength = length
            for name in layout.pastNames {
                let empty = try Tensor(floats: [], shape: [batch, layout.kvHeads, 0, layout.headDim], type: pastTypes[name] ?? layout.kvType)
                past[name] = try ONNXValue(empty, runtime: languageModel.runtime)
            }
        } else {
            embeds = try embed(ids: [tokens.last!], positions: [tokens.count])
            length = 1
        }

        var feeds = past
        let runtime = languageModel.runtime
        let outputs: [String: ONNXValue]
        do {
            feeds["inputs_embeds"] = try ONNXValue(
                try Tensor(floats: embeds, shape: [batch, length, conditioning.hiddenSize], type: layout.embedsType), runtime: runtime)
            feeds["attention_mask"] = try ONNXValue(
                Tensor(int64: [Int64](repeating: 1, count: batch * (pastLength + length)), shape: [batch, pastLength + length]), runtime: runtime)
            if layout.lmTakesPositionIDs {
                let positions = (0..<length).map { Int64(pastLength + $0) }
                feeds["position_ids"] = try ONNXValue(
                    Tensor(int64: Array((0..<batch).map { _ in positions }.joined()), shape: [batch, length]), runtime: runtime)
            }
            outputs = try runLanguageModel(feeds)
        } catch let error as ONNXRuntimeError {
            throw VoxError.engineFailure("The Chatterbox language model failed at step \(tokens.count): \(error.message)", detail: error.description)
        }
        // What was fed, not what was meant to be: the cache values' own length, as ORT reports it.
        cacheLengths.append(feeds[layout.pastNames[0]]?.shape[2] ?? -1)
        let logits: [Float]
        do {
            for (input, output) in zip(layout.pastNames, layout.presentNames) {
                guard let present = outputs[output], present.shape.count == 4, present.shape[2] == pastLength + length else {
                    throw VoxError.invalidModel(
                        "The Chatterbox language model's \(output) has shape \(outputs[output]?.shape ?? []); expected \(pastLength + length) positions.")
                }
                past[input] = try Self.cacheValue(present, as: pastTypes[input] ?? present.elementType, runtime: runtime)
            }
            logits = try lastLogits(outputs["logits"]?.tensor(), length: length)
        } catch let error as ONNXRuntimeError {
            throw VoxError.engineFailure(
                "The Chatterbox language model's outputs could not be read at step \(tokens.count): \(error.message)", detail: error.description)
        }
        pastLength += length
        let token = sampler.sample(logits, history: history, using: &rng)
        history.insert(token)
        if token == Self.stopToken {
            stoppedAtStopToken = true
            isFinished = true
            return nil
        }
        tokens.append(token)
        if tokens.count >= maxNewTokens { isFinished = true }
        return token
    }

    /// One language-model run: plain, or through IO binding with the cache on the model's device
    /// and the logits on the host. A present output whose type differs from the next step's input
    /// is bound to the host, where `cacheValue` converts it.
    private func runLanguageModel(_ feeds: [String: ONNXValue]) throws -> [String: ONNXValue] {
        guard let device = cacheDevice else {
            return try languageModel.run(values: feeds, outputNames: ["logits"] + layout.presentNames)
        }
        // One binding for the whole loop, cleared and bound again each step (creating one per step
        // costs an allocation and a release in ONNX Runtime every token).
        let binding: ONNXIOBinding
        if let existing = self.binding {
            existing.clear()
            binding = existing
        } else {
            binding = try ONNXIOBinding(session: languageModel)
            self.binding = binding
        }
        for (name, value) in feeds { try binding.bind(input: name, value) }
        try binding.bind(output: "logits", on: .cpu)
        for (input, output) in zip(layout.pastNames, layout.presentNames) {
            let sameType = languageModel.output(named: output)?.elementType == (pastTypes[input] ?? layout.kvType)
            try binding.bind(output: output, on: sameType ? device : .cpu)
        }
        return try binding.run()
    }

    var generation: ChatterboxGeneration {
        ChatterboxGeneration(
            tokens: tokens, stoppedAtStopToken: stoppedAtStopToken, cacheLengths: cacheLengths,
            prefixLength: prefixLength, batchSize: batch)
    }

    // MARK: pieces

    /// `present` as the next step's cache input: the value itself when the export gives the type
    /// the input declares (always, in a consistent export), else a converted copy.
    static func cacheValue(_ present: ONNXValue, as type: TensorElementType, runtime: ONNXRuntime) throws -> ONNXValue {
        guard present.elementType != type else { return present }
        return try ONNXValue(try present.tensor().converted(to: type), runtime: runtime)
    }

    /// The `exaggeration` input in the type the graph declares (float32, or float16 in fp16 exports):
    /// ONNX Runtime refuses a float32 tensor for a float16 input.
    static func exaggerationTensor(_ value: Float, batch: Int, type: TensorElementType) throws -> Tensor {
        try Tensor(floats: [Float](repeating: value, count: batch), shape: [batch], type: type)
    }

    /// Positions the original export's embedder expects for the prompt: text counts from 0 right
    /// after the exaggeration slot; the speech and exaggeration tokens sit at 0.
    static func promptPositions(_ ids: [Int]) -> [Int] {
        ids.enumerated().map { i, id in id >= startToken ? 0 : i - 1 }
    }

    /// embed_tokens for `ids` (one row per batch entry), as float32 values [batch, ids.count, hidden].
    private func embed(ids: [Int], positions: [Int]) throws -> [Float] {
        let n = ids.count
        let rowIDs = ids.map(Int64.init)
        var feeds: [String: Tensor] = [
            "input_ids": Tensor(int64: Array(repeatElement(rowIDs, count: batch).joined()), shape: [batch, n])
        ]
        if layout.embedTakesPositionIDs {
            let rowPositions = positions.map(Int64.init)
            feeds["position_ids"] = Tensor(int64: Array(repeatElement(rowPositions, count: batch).joined()), shape: [batch, n])
        }
        if layout.takesExaggeration {
            feeds["exaggeration"] = try Self.exaggerationTensor(
                exaggeration, batch: batch, type: embedTokens.input(named: "exaggeration")?.elementType ?? .float32)
        }
        let out: Tensor
        do {
            guard let first = try embedTokens.run(feeds, outputNames: [embedTokens.outputs[0].name]).values.first else {
                throw VoxError.engineFailure("Chatterbox embed_tokens returned nothing.")
            }
            out = first
        } catch let error as ONNXRuntimeError {
            throw VoxError.engineFailure("Chatterbox embed_tokens failed: \(error.message)", detail: error.description)
        }
        guard out.shape == [batch, n, conditioning.hiddenSize] else {
            throw VoxError.invalidModel(
                "embed_tokens gave shape \(out.shape) for \(n) ids; the speech encoder's conditioning has hidden size \(conditioning.hiddenSize). Are the graphs from one export?")
        }
        return out.floats()
    }

    /// The logits of the last position (guided when batch is 2).
    private func lastLogits(_ tensor: Tensor?, length: Int) throws -> [Float] {
        guard let tensor, tensor.shape.count == 3, tensor.shape[0] == batch, tensor.shape[1] == length else {
            throw VoxError.invalidModel("The Chatterbox language model's logits have shape \(tensor?.shape ?? []); expected [\(batch), \(length), vocab].")
        }
        let vocab = tensor.shape[2]
        let all = tensor.floats()
        let cond = Array(all[((length - 1) * vocab)..<(length * vocab)])
        guard batch == 2 else { return cond }
        let start = (length + length - 1) * vocab
        let uncond = all[start..<(start + vocab)]
        return zip(cond, uncond).map { c, u in c + cfgWeight * (c - u) }
    }
}
