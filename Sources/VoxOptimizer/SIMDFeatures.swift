/// The CPU vector and matrix extensions that decide which ONNX Runtime kernels run fast,
/// read from the `flags` line of /proc/cpuinfo.
public struct SIMDFeatures: Sendable, Equatable, Codable {
    public var avx2: Bool
    public var fma: Bool
    public var f16c: Bool
    public var avx512f: Bool
    /// AVX-512 VNNI: int8 dot products (Cascade Lake, Ice Lake, Zen 4 and later).
    public var avx512VNNI: Bool
    /// AVX-VNNI: the same int8 dot products on 256-bit vectors (Alder Lake, Zen 5).
    public var avxVNNI: Bool
    public var avx512BF16: Bool
    /// Intel AMX tiles (Sapphire Rapids and later).
    public var amxTile: Bool
    public var amxBF16: Bool
    public var amxInt8: Bool

    public init(
        avx2: Bool = false, fma: Bool = false, f16c: Bool = false, avx512f: Bool = false, avx512VNNI: Bool = false,
        avxVNNI: Bool = false, avx512BF16: Bool = false, amxTile: Bool = false, amxBF16: Bool = false, amxInt8: Bool = false
    ) {
        self.avx2 = avx2
        self.fma = fma
        self.f16c = f16c
        self.avx512f = avx512f
        self.avx512VNNI = avx512VNNI
        self.avxVNNI = avxVNNI
        self.avx512BF16 = avx512BF16
        self.amxTile = amxTile
        self.amxBF16 = amxBF16
        self.amxInt8 = amxInt8
    }

    /// Reads the feature names the Linux kernel prints in /proc/cpuinfo's `flags` line.
    public init<S: Sequence>(flags: S) where S.Element == String {
        let set = Set(flags.map { $0.lowercased() })
        self.init(
            avx2: set.contains("avx2"), fma: set.contains("fma"), f16c: set.contains("f16c"),
            avx512f: set.contains("avx512f"), avx512VNNI: set.contains("avx512_vnni"), avxVNNI: set.contains("avx_vnni"),
            avx512BF16: set.contains("avx512_bf16"), amxTile: set.contains("amx_tile"), amxBF16: set.contains("amx_bf16"),
            amxInt8: set.contains("amx_int8")
        )
    }

    /// Hardware int8 dot products, which make int8-quantized matrix multiplications fast in ONNX Runtime's MLAS.
    public var hasInt8DotProduct: Bool { avx512VNNI || avxVNNI || amxInt8 }

    /// The features present, by their /proc/cpuinfo names, in a fixed order.
    public var names: [String] {
        [
            ("avx2", avx2), ("fma", fma), ("f16c", f16c), ("avx512f", avx512f), ("avx512_vnni", avx512VNNI),
            ("avx_vnni", avxVNNI), ("avx512_bf16", avx512BF16), ("amx_tile", amxTile), ("amx_bf16", amxBF16),
            ("amx_int8", amxInt8),
        ].filter(\.1).map(\.0)
    }
}
