import Foundation
import VoxCore
import VoxONNX

extension Tensor {
    /// Float values as a tensor of a floating-point `type` (float32, float16, bfloat16 or double).
    init(floats values: [Float], shape: [Int], type: TensorElementType) throws {
        switch type {
        case .float32: self.init(float32: values, shape: shape)
        case .float16: self.init(float16: values, shape: shape)
        case .bfloat16:
            let bits = values.map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) }
            self.init(elementType: .bfloat16, shape: shape, bytes: bits.withUnsafeBytes { Data($0) })
        case .double:
            let doubles = values.map(Double.init)
            self.init(elementType: .double, shape: shape, bytes: doubles.withUnsafeBytes { Data($0) })
        default:
            throw VoxError.invalidModel("A model input wants \(type.rawValue) where VoxServe passes floating-point values.")
        }
    }

    /// The same values as a tensor of floating-point `type`; itself when it already is.
    func converted(to type: TensorElementType) throws -> Tensor {
        guard type != elementType else { return self }
        return try Tensor(floats: floats(), shape: shape, type: type)
    }
}
