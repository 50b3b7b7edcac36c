/// Which precision variants each provider prefers, and why.
extension ExecutionPlanner {
    /// Preference order on a CUDA GPU of compute capability `cc`.
    ///
    /// - cc ≥ 8.0 (Ampere and newer): fp16 first. Tensor cores run fp16 and bf16 at the same rate,
    ///   fp16 keeps three more mantissa bits, and ONNX Runtime's CUDA provider covers more operators
    ///   in fp16. bf16 comes next because its fp32-sized exponent cures the one fp16 failure that
    ///   matters (overflow to inf/NaN), then fp32.
    /// - 7.0 ≤ cc < 8.0 (Volta, Turing: T4, RTX 20): fp16 tensor cores but no bf16: fp16, then fp32.
    /// - cc < 7.0 (Pascal and older): fp16 runs at a fraction of the fp32 rate (1/64 on GP102/104):
    ///   fp32 only.
    static func gpuPrecisionOrder(_ cc: ComputeCapability) -> ([ModelPrecision], String) {
        if cc.hasBF16 {
            return ([.fp16, .bf16, .fp32], "compute capability \(cc) has fp16 and bf16 tensor cores; fp16 first for its precision and operator coverage, bf16 next to cure fp16 overflow")
        }
        if cc.hasFastFP16 {
            return ([.fp16, .fp32], "compute capability \(cc) has fp16 tensor cores but no bf16")
        }
        return ([.fp32], "compute capability \(cc) runs fp16 far slower than fp32")
    }

    /// Variants to stay on the GPU with when nothing above fits in its memory: 4-bit weights.
    /// Never chosen otherwise: quantization changes the voice, and GPUs have memory to spare for
    /// these models.
    static func gpuMemorySavingOrder(_ cc: ComputeCapability) -> [ModelPrecision] {
        cc.hasFastFP16 ? [.q4f16, .q4] : [.q4]
    }

    /// Preference order on the CPU. Decoding is bound by memory bandwidth, so quantized weights (a
    /// quarter or an eighth of fp32's bytes) are faster whenever the CPU has the kernels for them:
    ///
    /// - int8 dot products (AVX-512 VNNI, AVX-VNNI, AMX): int8 first, the quantization closest to
    ///   fp32, then q4, then fp32.
    /// - AVX2 without VNNI: q4 first. ONNX Runtime's u8s8 int8 kernels use VPMADDUBSW there, which
    ///   can saturate (ONNX Runtime's quantization guide warns of it); 4-bit `MatMulNBits` computes
    ///   in fp32 after unpacking and has AVX2 kernels. Then int8, then fp32.
    /// - no AVX2: fp32 only; the quantized kernels have no fast path.
    ///
    /// fp16, bf16 and q4f16 never run on the CPU provider by choice: ONNX Runtime's CPU kernels for
    /// them are few, so the graph fills with casts (AVX-512 BF16 and AMX help only through oneDNN).
    static func cpuPrecisionOrder(_ features: SIMDFeatures) -> ([ModelPrecision], String) {
        if features.hasInt8DotProduct {
            let which = [features.avx512VNNI ? "AVX-512 VNNI" : nil, features.avxVNNI ? "AVX-VNNI" : nil, features.amxInt8 ? "AMX" : nil]
                .compactMap { $0 }.joined(separator: ", ")
            return ([.int8, .q4, .fp32], "\(which) gives int8 dot products, so int8 weights are fast and the closest to fp32")
        }
        if features.avx2 {
            return ([.q4, .int8, .fp32], "AVX2 without VNNI: 4-bit weights cut memory traffic and compute in fp32, while int8 kernels there can saturate")
        }
        return ([.fp32], "no AVX2: quantized kernels have no fast path on this CPU")
    }

    /// Most precise first: what a component falls back to when it ships none of the preferred variants.
    static func precisionRank(_ provider: ExecutionProvider) -> [ModelPrecision] {
        provider == .cuda ? [.fp32, .fp16, .bf16, .q4f16, .q4, .int8] : [.fp32, .int8, .q4, .bf16, .fp16, .q4f16]
    }

    /// The variant of `component` to use for `tier`: the tier itself when shipped, else the next
    /// variant in the provider's order, else the most precise variant shipped.
    static func resolve(_ component: ModelComponent, tier: ModelPrecision, order: [ModelPrecision], provider: ExecutionProvider) -> ModelPrecision {
        let start = order.firstIndex(of: tier) ?? 0
        let candidates = [tier] + order[start...] + precisionRank(provider)
        return candidates.first(where: component.has) ?? component.precisions.first ?? .fp32
    }
}
