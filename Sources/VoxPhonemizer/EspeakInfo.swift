/// What libespeak-ng reports about itself (for `voxserve doctor`).
public struct EspeakInfo: Sendable, Equatable {
    /// The library's version string, e.g. `1.51`.
    public var version: String
    /// The espeak-ng-data folder the library reads.
    public var dataPath: String

    public init(version: String, dataPath: String) {
        self.version = version
        self.dataPath = dataPath
    }
}
