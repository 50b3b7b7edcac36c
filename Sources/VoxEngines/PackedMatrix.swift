/// The right-hand side `B` (`rows` × `columns`) of `C = A·B (+ bias)`, packed for the multiply:
/// panels of 8 columns, each panel holding its `rows` × 8 values contiguously, the last panel
/// padded with zeros. Weights are packed once, when the model loads.
struct PackedMatrix: Sendable {
    static let panelWidth = 8

    let rows: Int
    let columns: Int
    let panelCount: Int
    private let values: [Float]
    /// One value per column, padded to `panelCount * 8`; zeros when the matrix has no bias.
    private let bias: [Float]

    /// `element(k, n)` is `B[k][n]`.
    init(rows: Int, columns: Int, bias: [Float]? = nil, element: (Int, Int) -> Float) {
        precondition(bias == nil || bias!.count == columns)
        self.rows = rows
        self.columns = columns
        panelCount = (columns + Self.panelWidth - 1) / Self.panelWidth
        var values = [Float](repeating: 0, count: panelCount * rows * Self.panelWidth)
        for p in 0..<panelCount {
            for k in 0..<rows {
                for j in 0..<Self.panelWidth where p * Self.panelWidth + j < columns {
                    values[(p * rows + k) * Self.panelWidth + j] = element(k, p * Self.panelWidth + j)
                }
            }
        }
        self.values = values
        var padded = [Float](repeating: 0, count: panelCount * Self.panelWidth)
        if let bias { padded.replaceSubrange(0..<columns, with: bias) }
        self.bias = padded
    }

    /// `B = Wᵀ` for a PyTorch weight `W` of shape [columns, rows] stored row-major.
    init(transposing weight: [Float], outputs: Int, inputs: Int, bias: [Float]? = nil) {
        precondition(weight.count == outputs * inputs)
        self.init(rows: inputs, columns: outputs, bias: bias) { k, n in weight[n * inputs + k] }
    }

    /// How `C` starts before `A·B` is added to it.
    enum Start {
        case zero
        /// The packed bias, broadcast over rows.
        case bias
        /// C's current contents (accumulate).
        case existing
    }

    /// `C[m×columns] = start + A[m×rows]·B`. `A`'s rows are `aStride` apart (rows may overlap, as
    /// frames of a signal do); `C`'s rows are `cStride` apart. Only `columns` columns of C are written.
    func multiply(
        _ a: UnsafePointer<Float>, aStride: Int, rowCount m: Int,
        into c: UnsafeMutablePointer<Float>, cStride: Int, start: Start
    ) {
        guard m > 0 else { return }
        values.withUnsafeBufferPointer { b in
            bias.withUnsafeBufferPointer { bias in
                #if DEBUG
                // Unoptimized builds run SIMD types through generic witnesses (about 15× slower
                // than plain scalars), so debug builds and tests use the scalar kernel.
                multiplyScalar(a, aStride, m, b.baseAddress!, bias.baseAddress!, c, cStride, start)
                #else
                multiplySIMD(a, aStride, m, b.baseAddress!, bias.baseAddress!, c, cStride, start)
                #endif
            }
        }
    }

    /// Entry points for tests that compare the two kernels, whatever the build configuration.
    func multiply(
        _ a: UnsafePointer<Float>, aStride: Int, rowCount m: Int,
        into c: UnsafeMutablePointer<Float>, cStride: Int, start: Start, simd: Bool
    ) {
        guard m > 0 else { return }
        values.withUnsafeBufferPointer { b in
            bias.withUnsafeBufferPointer { bias in
                if simd {
                    multiplySIMD(a, aStride, m, b.baseAddress!, bias.baseAddress!, c, cStride, start)
                } else {
                    multiplyScalar(a, aStride, m, b.baseAddress!, bias.baseAddress!, c, cStride, start)
                }
            }
        }
    }

    // MARK: kernels

    /// Register tile of 6 rows × 8 columns: 12 accumulators of SIMD8 (two SSE registers each)
    /// plus the B vector and one broadcast fit the 16 vector registers of baseline x86-64.
    private func multiplySIMD(
        _ a: UnsafePointer<Float>, _ lda: Int, _ m: Int, _ b: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ start: Start
    ) {
        let k = rows
        var r = 0
        while r < m {
            let tileRows = min(6, m - r)
            // Rows past the end repeat the last row: computed, never stored.
            let a0 = a + r * lda
            let a1 = a + min(r + 1, m - 1) * lda
            let a2 = a + min(r + 2, m - 1) * lda
            let a3 = a + min(r + 3, m - 1) * lda
            let a4 = a + min(r + 4, m - 1) * lda
            let a5 = a + min(r + 5, m - 1) * lda
            for p in 0..<panelCount {
                let column = p * Self.panelWidth
                let width = min(Self.panelWidth, columns - column)
                var c0: SIMD8<Float>, c1: SIMD8<Float>, c2: SIMD8<Float>, c3: SIMD8<Float>, c4: SIMD8<Float>, c5: SIMD8<Float>
                switch start {
                case .zero:
                    c0 = .zero; c1 = .zero; c2 = .zero; c3 = .zero; c4 = .zero; c5 = .zero
                case .bias:
                    let v = Self.load(bias + column, width)
                    c0 = v; c1 = v; c2 = v; c3 = v; c4 = v; c5 = v
                case .existing:
                    let base = c + r * ldc + column
                    c0 = Self.load(base, width)
                    c1 = tileRows > 1 ? Self.load(base + ldc, width) : .zero
                    c2 = tileRows > 2 ? Self.load(base + 2 * ldc, width) : .zero
                    c3 = tileRows > 3 ? Self.load(base + 3 * ldc, width) : .zero
                    c4 = tileRows > 4 ? Self.load(base + 4 * ldc, width) : .zero
                    c5 = tileRows > 5 ? Self.load(base + 5 * ldc, width) : .zero
                }
                var bp = b + p * k * Self.panelWidth
                for kk in 0..<k {
                    let bv = UnsafeRawPointer(bp).loadUnaligned(as: SIMD8<Float>.self)
                    c0 += SIMD8(repeating: a0[kk]) * bv
                    c1 += SIMD8(repeating: a1[kk]) * bv
                    c2 += SIMD8(repeating: a2[kk]) * bv
                    c3 += SIMD8(repeating: a3[kk]) * bv
                    c4 += SIMD8(repeating: a4[kk]) * bv
                    c5 += SIMD8(repeating: a5[kk]) * bv
                    bp += Self.panelWidth
                }
                let base = c + r * ldc + column
                Self.store(c0, base, width)
                if tileRows > 1 { Self.store(c1, base + ldc, width) }
                if tileRows > 2 { Self.store(c2, base + 2 * ldc, width) }
                if tileRows > 3 { Self.store(c3, base + 3 * ldc, width) }
                if tileRows > 4 { Self.store(c4, base + 4 * ldc, width) }
                if tileRows > 5 { Self.store(c5, base + 5 * ldc, width) }
            }
            r += 6
        }
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>, _ width: Int) -> SIMD8<Float> {
        if width == panelWidth { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        var v = SIMD8<Float>.zero
        for j in 0..<width { v[j] = p[j] }
        return v
    }

    @inline(__always)
    private static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ width: Int) {
        if width == panelWidth {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
        } else {
            for j in 0..<width { p[j] = v[j] }
        }
    }

    /// One row × 8 columns with scalar accumulators.
    private func multiplyScalar(
        _ a: UnsafePointer<Float>, _ lda: Int, _ m: Int, _ b: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ start: Start
    ) {
        let k = rows
        for r in 0..<m {
            let arow = a + r * lda
            for p in 0..<panelCount {
                let column = p * Self.panelWidth
                let width = min(Self.panelWidth, columns - column)
                let out = c + r * ldc + column
                var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
                var s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0
                var bp = b + p * k * Self.panelWidth
                for kk in 0..<k {
                    let av = arow[kk]
                    s0 += av * bp[0]; s1 += av * bp[1]; s2 += av * bp[2]; s3 += av * bp[3]
                    s4 += av * bp[4]; s5 += av * bp[5]; s6 += av * bp[6]; s7 += av * bp[7]
                    bp += Self.panelWidth
                }
                let sums = (s0, s1, s2, s3, s4, s5, s6, s7)
                withUnsafeBytes(of: sums) { raw in
                    let s = raw.bindMemory(to: Float.self)
                    for j in 0..<width {
                        switch start {
                        case .zero: out[j] = s[j]
                        case .bias: out[j] = bias[column + j] + s[j]
                        case .existing: out[j] += s[j]
                        }
                    }
                }
            }
        }
    }
}
