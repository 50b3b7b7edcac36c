import VoxCore
import VoxONNX

/// Runs the Chatterbox language model for one loop (a sentence's generator, or the batch): plainly,
/// or through IO binding with the KV cache left on the model's device and only the logits brought
/// to the host. A present output whose type differs from the next run's cache input is bound to
/// the host, where `ChatterboxGenerator.cacheValue` converts it.
///
/// Thread-safety: one loop drives a runner at a time (it keeps one IO binding, cleared and bound
/// again each run), so it is `@unchecked Sendable` only to move with its loop.
final class LanguageModelRunner: @unchecked Sendable {
    let session: ONNXSession
    let layout: ChatterboxModelLayout
    /// Where IO binding keeps the KV cache (the language model's device), nil without IO binding.
    let cacheDevice: ONNXIOBinding.Device?
    /// The element type each `past_key_values.*` input declares (float16 in fp16 exports).
    let pastTypes: [String: TensorElementType]
    /// Made at the first run and reused: creating one per step costs an allocation and a release in
    /// ONNX Runtime every token.
    private var binding: ONNXIOBinding?

    init(session: ONNXSession, layout: ChatterboxModelLayout, ioBinding: Bool) {
        self.session = session
        self.layout = layout
        cacheDevice = ioBinding ? Self.device(of: session) : nil
        var pastTypes: [String: TensorElementType] = [:]
        for name in layout.pastNames {
            pastTypes[name] = session.input(named: name)?.elementType ?? layout.kvType
        }
        self.pastTypes = pastTypes
    }

    /// The device a session's outputs stay on under IO binding.
    static func device(of session: ONNXSession) -> ONNXIOBinding.Device {
        session.options.provider == .cuda ? .cuda(deviceID: session.options.deviceID) : .cpu
    }

    /// One run, returning the logits and every `present.*`.
    func run(_ feeds: [String: ONNXValue]) throws -> [String: ONNXValue] {
        guard let device = cacheDevice else {
            return try session.run(values: feeds, outputNames: ["logits"] + layout.presentNames)
        }
        let binding: ONNXIOBinding
        if let existing = self.binding {
            existing.clear()
            binding = existing
        } else {
            binding = try ONNXIOBinding(session: session)
            self.binding = binding
        }
        for (name, value) in feeds { try binding.bind(input: name, value) }
        try binding.bind(output: "logits", on: .cpu)
        for (input, output) in zip(layout.pastNames, layout.presentNames) {
            let sameType = session.output(named: output)?.elementType == (pastTypes[input] ?? layout.kvType)
            try binding.bind(output: output, on: sameType ? device : .cpu)
        }
        return try binding.run()
    }
}
