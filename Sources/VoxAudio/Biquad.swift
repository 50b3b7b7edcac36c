import Foundation

/// A second-order IIR filter (direct form I, double precision), designed with the Audio EQ
/// Cookbook formulas that pyloudnorm uses for K-weighting.
struct Biquad: Equatable {
    /// Feed-forward coefficients b0, b1, b2, normalised by a0.
    var b: (Double, Double, Double)
    /// Feedback coefficients a1, a2, normalised by a0 (a0 is 1).
    var a: (Double, Double)

    static func == (lhs: Biquad, rhs: Biquad) -> Bool {
        lhs.b == rhs.b && lhs.a == rhs.a
    }

    /// High shelf of `gainDB` above `frequency` Hz.
    static func highShelf(gainDB: Double, q: Double, frequency: Double, sampleRate: Double) -> Biquad {
        let amplitude = pow(10, gainDB / 40)
        let w0 = 2 * Double.pi * frequency / sampleRate
        let alpha = sin(w0) / (2 * q)
        let c = cos(w0)
        let s = 2 * amplitude.squareRoot() * alpha
        let b0 = amplitude * ((amplitude + 1) + (amplitude - 1) * c + s)
        let b1 = -2 * amplitude * ((amplitude - 1) + (amplitude + 1) * c)
        let b2 = amplitude * ((amplitude + 1) + (amplitude - 1) * c - s)
        let a0 = (amplitude + 1) - (amplitude - 1) * c + s
        let a1 = 2 * ((amplitude - 1) - (amplitude + 1) * c)
        let a2 = (amplitude + 1) - (amplitude - 1) * c - s
        return Biquad(b: (b0 / a0, b1 / a0, b2 / a0), a: (a1 / a0, a2 / a0))
    }

    /// Second-order high pass at `frequency` Hz.
    static func highPass(q: Double, frequency: Double, sampleRate: Double) -> Biquad {
        let w0 = 2 * Double.pi * frequency / sampleRate
        let alpha = sin(w0) / (2 * q)
        let c = cos(w0)
        let a0 = 1 + alpha
        return Biquad(b: ((1 + c) / 2 / a0, -(1 + c) / a0, (1 + c) / 2 / a0), a: (-2 * c / a0, (1 - alpha) / a0))
    }

    /// The filtered signal, starting from rest (as scipy's `lfilter` with no initial state).
    func apply(_ x: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: x.count)
        var x1 = 0.0, x2 = 0.0, y1 = 0.0, y2 = 0.0
        for i in x.indices {
            let x0 = x[i]
            let y0 = b.0 * x0 + b.1 * x1 + b.2 * x2 - a.0 * y1 - a.1 * y2
            y[i] = y0
            x2 = x1
            x1 = x0
            y2 = y1
            y1 = y0
        }
        return y
    }
}
