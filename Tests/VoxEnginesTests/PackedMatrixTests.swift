import Testing
@testable import VoxEngines

@Suite("PackedMatrix")
struct PackedMatrixTests {
    /// A deterministic pseudo-random matrix, so that a failure reproduces.
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
    }

    @Test("the SIMD and scalar kernels both compute A·B + start, for ragged sizes and strides", arguments: [false, true])
    func kernelsMatchPlainProduct(simd: Bool) {
        let m = 13, k = 37, n = 21, aStride = 40, cStride = 25
        let a = Self.values(m * aStride, seed: 1)
        let b = Self.values(k * n, seed: 2)
        let bias = Self.values(n, seed: 3)
        let initial = Self.values(m * cStride, seed: 4)
        let packed = PackedMatrix(rows: k, columns: n, bias: bias) { row, column in b[row * n + column] }
        for start in [PackedMatrix.Start.zero, .bias, .existing] {
            var c = initial
            a.withUnsafeBufferPointer { a in
                c.withUnsafeMutableBufferPointer { c in
                    packed.multiply(a.baseAddress!, aStride: aStride, rowCount: m, into: c.baseAddress!, cStride: cStride, start: start, simd: simd)
                }
            }
            for i in 0..<m {
                for j in 0..<cStride {
                    guard j < n else {
                        #expect(c[i * cStride + j] == initial[i * cStride + j], "column \(j) past the matrix was written")
                        continue
                    }
                    var expected: Double
                    switch start {
                    case .zero: expected = 0
                    case .bias: expected = Double(bias[j])
                    case .existing: expected = Double(initial[i * cStride + j])
                    }
                    for p in 0..<k { expected += Double(a[i * aStride + p]) * Double(b[p * n + j]) }
                    #expect(abs(Double(c[i * cStride + j]) - expected) < 1e-4, "row \(i) column \(j) start \(start)")
                }
            }
        }
    }
}
