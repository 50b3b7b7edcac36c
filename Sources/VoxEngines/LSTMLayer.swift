import Foundation
import VoxONNX

/// One layer of a PyTorch `nn.LSTM` (gate order i, f, g, o), run over a batch of sequences.
/// The input projection of the whole sequence is one matrix product; each time step is then a
/// [batch × hidden] · [hidden × 4·hidden] product added in place, followed by the cell update.
struct LSTMLayer: Sendable {
    let inputSize: Int
    let hiddenSize: Int
    /// W_ihᵀ with bias b_ih + b_hh.
    let input: PackedMatrix
    /// W_hhᵀ.
    let recurrent: PackedMatrix

    init(weightIH: Tensor, weightHH: Tensor, biasIH: Tensor, biasHH: Tensor) {
        hiddenSize = weightHH.shape[1]
        inputSize = weightIH.shape[1]
        let bias = zip(biasIH.floats(), biasHH.floats()).map { $0 + $1 }
        input = PackedMatrix(transposing: weightIH.floats(), outputs: 4 * hiddenSize, inputs: inputSize, bias: bias)
        recurrent = PackedMatrix(transposing: weightHH.floats(), outputs: 4 * hiddenSize, inputs: hiddenSize)
    }

    /// Projects the inputs of every step at once: `gates[r] = x[r] · W_ihᵀ + bias` for the
    /// `rows` = batch × steps input vectors of `x` (row-major, `inputSize` wide).
    func project(_ x: UnsafePointer<Float>, rows: Int, into gates: UnsafeMutablePointer<Float>) {
        input.multiply(x, aStride: inputSize, rowCount: rows, into: gates, cStride: 4 * hiddenSize, start: .bias)
    }

    /// Runs the recurrence over projected `gates` ([batch][steps][4H], overwritten). Writes the
    /// hidden state of every step to `outputs` ([batch][steps][H]) when given, and leaves the last
    /// hidden state in `hidden` ([batch][H]).
    func run(gates: UnsafeMutablePointer<Float>, batch: Int, steps: Int, outputs: UnsafeMutablePointer<Float>?, hidden: UnsafeMutablePointer<Float>) {
        let h = hiddenSize
        let width = 4 * h
        var cell = [Float](repeating: 0, count: batch * h)
        hidden.update(repeating: 0, count: batch * h)
        cell.withUnsafeMutableBufferPointer { cell in
            for t in 0..<steps {
                let step = gates + t * width
                if t > 0 {
                    recurrent.multiply(hidden, aStride: h, rowCount: batch, into: step, cStride: steps * width, start: .existing)
                }
                for b in 0..<batch {
                    let g = step + b * steps * width
                    let c = cell.baseAddress! + b * h
                    let hb = hidden + b * h
                    for j in 0..<h {
                        let i = Self.sigmoid(g[j])
                        let f = Self.sigmoid(g[h + j])
                        let candidate = Self.tanh(g[2 * h + j])
                        let o = Self.sigmoid(g[3 * h + j])
                        let cj = f * c[j] + i * candidate
                        c[j] = cj
                        hb[j] = o * Self.tanh(cj)
                    }
                    if let outputs {
                        (outputs + (b * steps + t) * h).update(from: hb, count: h)
                    }
                }
            }
        }
    }

    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// tanh through one `exp` (glibc's `tanhf` goes through the slower `expm1f`). Exact at ±∞;
    /// near 0 the cancellation costs relative accuracy but the absolute error stays below 1e-7.
    @inline(__always)
    static func tanh(_ x: Float) -> Float { 1 - 2 / (1 + exp(2 * x)) }
}
