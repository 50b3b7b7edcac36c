import Foundation

/// One move from a plan entry to the next, and why.
public struct FallbackEvent: Sendable, Equatable, Codable {
    /// Index in the plan of the entry that failed.
    public var entryIndex: Int
    /// That entry's label, for example "cuda:0 fp16".
    public var entryLabel: String
    public var stage: FallbackStage
    public var reason: String
    public var date: Date

    public init(entryIndex: Int, entryLabel: String, stage: FallbackStage, reason: String, date: Date = Date()) {
        self.entryIndex = entryIndex
        self.entryLabel = entryLabel
        self.stage = stage
        self.reason = reason
        self.date = date
    }
}
