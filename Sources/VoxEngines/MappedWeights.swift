import Foundation
import VoxCore

/// A weights file's bytes, memory-mapped; a missing file is `modelNotFound`, an unreadable one `io`.
func mappedWeights(_ url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        guard FileManager.default.fileExists(atPath: url.path) else { throw VoxError.modelNotFound(url.path) }
        throw VoxError.io("Cannot read \(url.path): \(error.localizedDescription)", path: url.path)
    }
}
