import Foundation
import VoxCore
import VoxONNX

/// Generates one sentence's speech tokens step by step: embed_tokens, then the language model with
/// its KV cache, then the sampler. Step 0 feeds the voice conditioning followed by the text; every
/// later step feeds the token chosen before. With classifier-free guidance (the original model),
/// each run has two rows, the second with the text's embeddings zeroed, and the logits are
/// `cond + w·(cond − uncond)`.
///
/// The KV cache stays in ONNX Runtime (on the GPU with IO binding): each step's `present.*` values
/// are fed back as the next step's `past_key_values.*` without a copy into Swift; only the last
/// position's logits come out.
///
/// Thread-safety: one task drives a generator at a time (the engine hands each request its own);
/// it holds no lock, so it is `@unchecked Sendable` only to move between that task and `offload`.
final class ChatterboxGenerator: @unchecked Sendable {
    static let startToken = 6561
    static let stopToken = 6562
    static let exaggerationToken = 6563
    /// The original model's text tokens that open and close the text (`[START]`, `[STOP]`).
    static let startTextToken = 255
    static let stopTextToken = 0
    /// GPT-2's `<|endoftext|>`: Turbo's speech placeholder when the tokenizer has no such token.
    static let turboPlaceholder = 50256

    let embedTokens: ONNXSession
    let languageModel: ONNXSession
    let layout: ChatterboxModelLayout
    let sampler: TokenSampler
    let maxNewTokens: Int
    let cfgWeight: Float
    let exaggeration: Float
    let batch: Int
    /// Benchmarks only: never stop on the stop token, so every run generates `maxNewTokens`.
    let ignoresStopToken: Bool
    /// The voices' conditioning positions already run, shared by the engine's generators.
    let prefixCache: ChatterboxPrefixCache?
    /// Copies cache positions on the language model's device (with IO binding); nil copies on the host.
    let gatherer: KVCacheGatherer?
    /// Runs the language model, with IO binding when the options ask for it.
    let runner: LanguageModelRunner

    let conditioning: ChatterboxConditioning
    let promptIDs: [Int]
    private var rng: SeededGenerator
    /// The tokens generated so far, for the repetition penalty.
    private var history: Set<Int> = []
    private var past: [String: ONNXValue] = [:]
    private var pastLength = 0
    private(set) var tokens: [Int] = []
    private(set) var cacheLengths: [Int] = []
    /// Wall time of each step (language model and sampling), the first one being the prefill.
    private(set) var stepSeconds: [Double] = []
    private(set) var stoppedAtStopToken = false
    private(set) var isFinished = false
    private(set) var prefixLength = 0
    /// The voice's cached conditioning positions, found at the prefill; nil on a miss.
    private var prefixEntry: ChatterboxPrefixCache.Entry?
    /// The positions the prefill starts after (0 on a miss): it runs `prefillStart..<prefixLength`.
    var prefillStart: Int { prefixEntry?.length ?? 0 }

    /// `textIDs` are the tokenizer's ids for the sentence.
    init(
        embedTokens: ONNXSession, languageModel: ONNXSession, layout: ChatterboxModelLayout, conditioning: ChatterboxConditioning,
        textIDs: [Int], placeholder: Int = ChatterboxGenerator.turboPlaceholder, options: ChatterboxOptions, seed: UInt64,
        prefixCache: ChatterboxPrefixCache? = nil, gatherer: KVCacheGatherer? = nil
    ) {
        self.prefixCache = prefixCache
        self.gatherer = gatherer
        self.embedTokens = embedTokens
        self.languageModel = languageModel
        self.layout = layout
        self.conditioning = conditioning
        self.sampler = options.sampler(for: layout.flavor)
        self.maxNewTokens = max(1, options.maxNewTokens)
        self.cfgWeight = options.cfgWeight
        self.exaggeration = options.exaggeration
        self.batch = layout.flavor == .original && options.cfgWeight > 0 && layout.lmAcceptsBatchOfTwo ? 2 : 1
        runner = LanguageModelRunner(session: languageModel, layout: layout, ioBinding: options.ioBinding)
        self.rng = SeededGenerator(seed: seed)
        promptIDs = Self.promptIDs(text: textIDs, flavor: layout.flavor, placeholder: placeholder)
        ignoresStopToken = options.ignoresStopToken
    }

    /// The ids embed_tokens gets for the first step, whatever template the tokenizer applied:
    /// - Turbo: the text, then exactly two placeholders (`<|endoftext|>`, 50256 in GPT-2's
    ///   vocabulary), which the graph embeds as start-of-speech tokens: it reads the last two ids
    ///   as speech. `tokenizer.json`'s template appends them; `vocab.json` + `merges.txt` do not.
    /// - The original model: `[exaggeration 6563, [START] 255, text…, [STOP] 0, 6561, 6561]`, as
    ///   upstream's `T3.inference` lays them out (text between start and stop text tokens, then the
    ///   start-of-speech token and the `bos` it appends); the graph finds the text span by the 0.
    static func promptIDs(text: [Int], flavor: ChatterboxModelLayout.Flavor, placeholder: Int) -> [Int] {
        var ids = text[...]
        switch flavor {
        case .turbo:
            while ids.last == placeholder { ids.removeLast() }
            return Array(ids) + [placeholder, placeholder]
        case .original:
            if ids.first == exaggerationToken { ids.removeFirst() }
            while ids.last == startToken { ids.removeLast() }
            if ids.first == startTextToken { ids.removeFirst() }
            if ids.last == stopTextToken { ids.removeLast() }
            return [exaggerationToken, startTextToken] + ids + [stopTextToken, startToken, startToken]
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
        let clock = ContinuousClock()
        let started = clock.now
        defer {
            stepSeconds.append((clock.now - started).seconds)
        }
        precondition(!isFinished, "generation already finished")
        let first = tokens.isEmpty && pastLength == 0
        let embeds: [Float]
        let length: Int
        if first {
            embeds = try prefillEmbeddings()
            past = try initialCache()
            pastLength = prefillStart
            length = prefixLength - prefillStart
        } else {
            embeds = try nextEmbeddings()
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
            feeds.merge(try Self.extraFeeds(layout, runtime: runtime)) { $1 }
            outputs = try runner.run(feeds)
        } catch let error as ONNXRuntimeError {
            throw VoxError.engineFailure("The Chatterbox language model failed at step \(tokens.count): \(error.message)", detail: error.description)
        }
        // What was fed, not what was meant to be: the cache values' own length, as ORT reports it.
        cacheLengths.append(feeds[layout.pastNames[0]]?.shape[2] ?? -1)
        let logits: [Float]
        do {
            past = try nextCache(outputs, rows: batch, length: pastLength + length)
            if first { try rememberPrefix(past) }
            logits = try lastLogits(outputs["logits"], firstRow: 0, of: batch, length: length)
        } catch let error as ONNXRuntimeError {
            throw VoxError.engineFailure(
                "The Chatterbox language model's outputs could not be read at step \(tokens.count): \(error.message)", detail: error.description)
        }
        pastLength += length
        return accept(logits)
    }

    /// The first step's embeddings, [batch, prefixLength − prefillStart, hidden] as float32: the
    /// voice's conditioning, then the prompt (its unconditional twin in the second row with
    /// guidance); without the conditioning when `prefixCache` holds its positions already. Sets
    /// `prefixLength` and looks the voice up (`prefillStart`).
    func prefillEmbeddings() throws -> [Float] {
        let rowIDs = batch == 2 ? [promptIDs, Self.unconditionalIDs(promptIDs)] : [promptIDs]
        let text = try embed(rows: rowIDs, positions: Self.promptPositions(promptIDs))
        prefixEntry = prefixCache?.lookup(conditioning)
        var rows: [Float] = []
        let cond = prefixEntry == nil ? try conditioning.audioFeatures.converted(to: .float32).floats() : []
        let hidden = conditioning.hiddenSize
        let textLength = promptIDs.count
        for b in 0..<batch {
            rows += cond
            rows += text[(b * textLength * hidden)..<((b + 1) * textLength * hidden)]
        }
        prefixLength = conditioning.length + textLength
        return rows
    }

    /// The cache the prefill starts from: the voice's cached conditioning positions, else empty.
    func initialCache() throws -> [String: ONNXValue] {
        guard let entry = prefixEntry else { return try emptyCache() }
        return try ChatterboxPrefixCache.cache(entry, rows: batch, runtime: languageModel.runtime, gatherer: gatherer)
    }

    /// After a whole prefill (`cache` holds every prefix position): keeps the conditioning's
    /// positions for the voice's next sentences.
    func rememberPrefix(_ cache: [String: ONNXValue]) throws {
        guard let prefixCache, prefixEntry == nil else { return }
        try prefixCache.store(conditioning, from: cache, runtime: languageModel.runtime, gatherer: gatherer)
    }

    /// A later step's embeddings, [batch, 1, hidden]: the token chosen last.
    func nextEmbeddings() throws -> [Float] {
        try embed(rows: Array(repeating: [tokens.last!], count: batch), positions: [tokens.count])
    }

    /// Samples the next token from this step's (guided) last-position logits and records it.
    /// Returns the new speech token, or nil when it was the stop token (generation then ends).
    func accept(_ logits: [Float]) -> Int? {
        precondition(!isFinished, "generation already finished")
        var scores = logits
        if ignoresStopToken, scores.count > Self.stopToken { scores[Self.stopToken] = -.infinity }
        // What upstream penalises: the original model's `generated_ids` always begin with the start
        // token; Turbo's loop penalises it only on the first step, then only generated tokens.
        let penalised = tokens.isEmpty || layout.flavor == .original ? history.union([Self.startToken]) : history
        let token = sampler.sample(scores, history: penalised, using: &rng)
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

    /// Ends generation without a token (a batch row cancelled or failed).
    func finish() { isFinished = true }

    /// Classifier-free guidance: `cond + w·(cond − uncond)`.
    func guided(_ cond: [Float], _ uncond: [Float]) -> [Float] {
        zip(cond, uncond).map { c, u in c + cfgWeight * (c - u) }
    }

    /// Records one step's wall time and the cache length it was fed (batch rows, which the engine's
    /// batch runs for them).
    func record(stepSeconds seconds: Double, cacheLength: Int) {
        stepSeconds.append(seconds)
        cacheLengths.append(cacheLength)
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

    /// The constants fed to `layout.lmExtraInputs` on every run.
    static func extraFeeds(_ layout: ChatterboxModelLayout, runtime: ONNXRuntime) throws -> [String: ONNXValue] {
        var feeds: [String: ONNXValue] = [:]
        for extra in layout.lmExtraInputs {
            let shape = extra.rank == 0 ? [Int]() : [1]
            switch extra.value {
            case .int64(let v): feeds[extra.name] = try ONNXValue(Tensor(int64: [v], shape: shape), runtime: runtime)
            case .bool(let v): feeds[extra.name] = try ONNXValue(Tensor(bool: [v], shape: shape), runtime: runtime)
            }
        }
        return feeds
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

    /// The unconditional row of classifier-free guidance for the original model's prompt: every
    /// text token between `[START]` and `[STOP]` becomes `[START]`, at the text's own positions.
    /// Upstream (`T3.prepare_input_embeds`) zeroes the text tokens' embeddings and then adds the
    /// positional ones; the ONNX embed_tokens adds both in one graph and cannot be asked for the
    /// positional part alone, so the row keeps every text position (which zeroing the whole
    /// embedding lost) and carries no text, at the price of a constant `[START]` embedding.
    static func unconditionalIDs(_ prompt: [Int]) -> [Int] {
        guard let open = prompt.firstIndex(of: startTextToken), let close = prompt[open...].firstIndex(of: stopTextToken) else { return prompt }
        var ids = prompt
        for i in (open + 1)..<close { ids[i] = startTextToken }
        return ids
    }

    /// embed_tokens for one id sequence per batch row (all of one length), as float32 values
    /// [batch, length, hidden].
    private func embed(rows: [[Int]], positions: [Int]) throws -> [Float] {
        let n = rows[0].count
        var feeds: [String: Tensor] = [
            "input_ids": Tensor(int64: rows.flatMap { $0.map(Int64.init) }, shape: [batch, n])
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

    /// The last position's logits of this sentence's rows, which start at `firstRow` of the run's
    /// `rowCount` (guided when there are two), read in place. An export may give every position's
    /// logits [rows, length, vocab] or only the last one's [rows, 1, vocab].
    func lastLogits(_ value: ONNXValue?, firstRow row: Int, of rowCount: Int, length: Int) throws -> [Float] {
        guard let value, value.shape.count == 3, value.shape[0] == rowCount, value.shape[1] == length || value.shape[1] == 1 else {
            throw VoxError.invalidModel(
                "The Chatterbox language model's logits have shape \(value?.shape ?? []); expected [\(rowCount), \(length) or 1, vocab].")
        }
        let positions = value.shape[1]
        let vocab = value.shape[2]
        let cond = try value.floats(offset: ((row + 1) * positions - 1) * vocab, count: vocab)
        guard batch == 2 else { return cond }
        let uncond = try value.floats(offset: ((row + 2) * positions - 1) * vocab, count: vocab)
        return guided(cond, uncond)
    }

    /// An empty cache for this sentence's rows, in the types the inputs declare.
    func emptyCache() throws -> [String: ONNXValue] {
        var cache: [String: ONNXValue] = [:]
        for name in layout.pastNames {
            let empty = try Tensor(floats: [], shape: [batch, layout.kvHeads, 0, layout.headDim], type: runner.pastTypes[name] ?? layout.kvType)
            cache[name] = try ONNXValue(empty, runtime: languageModel.runtime)
        }
        return cache
    }

    /// A run's `present.*` as the next run's cache, checked to hold `rows` × `length` positions.
    func nextCache(_ outputs: [String: ONNXValue], rows: Int, length: Int) throws -> [String: ONNXValue] {
        var cache: [String: ONNXValue] = [:]
        for (input, output) in zip(layout.pastNames, layout.presentNames) {
            guard let present = outputs[output], present.shape.count == 4, present.shape[0] == rows, present.shape[2] == length else {
                throw VoxError.invalidModel(
                    "The Chatterbox language model's \(output) has shape \(outputs[output]?.shape ?? []); expected \(rows) rows of \(length) positions.")
            }
            cache[input] = try Self.cacheValue(present, as: runner.pastTypes[input] ?? present.elementType, runtime: languageModel.runtime)
        }
        return cache
    }
}
