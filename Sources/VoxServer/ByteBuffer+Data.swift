import Foundation
import Hummingbird

extension ByteBuffer {
    /// The readable bytes as `Data`.
    var data: Data { Data(readableBytesView) }
}
