/// An NVIDIA GPU's CUDA compute capability, for example 8.9 for an RTX 4090.
///
/// Reference points (DESIGN.md, "Hardware and the execution plan"): RTX 50 (Blackwell) 12.0;
/// B200 10.0; H100/H200 9.0; RTX 40 (Ada) 8.9; RTX 30 8.6; A100 8.0; RTX 20/T4 7.5; Pascal 6.x.
public struct ComputeCapability: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static func < (lhs: ComputeCapability, rhs: ComputeCapability) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    public var description: String { "\(major).\(minor)" }

    /// Tensor cores with fast fp16 arrived with Volta (7.0). Pascal's consumer chips (6.1) run fp16
    /// at a small fraction of their fp32 rate, so fp16 there is slower, not faster.
    public var hasFastFP16: Bool { self >= ComputeCapability(7, 0) }

    /// bf16 arithmetic arrived with Ampere (8.0); Turing (7.5) and older have none.
    public var hasBF16: Bool { self >= ComputeCapability(8, 0) }
}
