import Testing
import VoxCore
@testable import VoxPhonemizer

/// Cutting the source text into clauses from the pointer positions espeak-ng leaves. The offsets
/// below are the ones libespeak-ng 1.51 produced for these texts.
@Suite struct ClauseSourceTrackerTests {
    private func clauses(_ text: String, offsets: [Int?]) throws -> [EspeakClause] {
        var tracker = ClauseSourceTracker(utf8: Array(text.utf8))
        return try offsets.map { try tracker.advance(to: $0, phonemes: "x") }
    }

    @Test func theLookAheadCharacterStartsTheNextClause() throws {
        // espeak-ng skips "this, i", "s: a", "; t", then the rest.
        let result = try clauses("this, is: a; test.", offsets: [7, 11, 14, nil])
        #expect(result.map(\.text) == ["this, ", "is: ", "a; ", "test."])
        #expect(result.map(\.terminator) == [.comma, .colon, .semicolon, .period])
    }

    @Test func aMultiByteLookAheadIsCutAtItsFirstByte() throws {
        // "Hi. É" is six bytes; "É" (C3 89) is the look-ahead.
        let result = try clauses("Hi. Élan is here.", offsets: [6, nil])
        #expect(result.map(\.text) == ["Hi. ", "Élan is here."])
        #expect(result.first?.terminator == .period)
    }

    @Test func aClosingQuoteAfterTheTerminatorStaysWithTheClause() throws {
        let result = try clauses("He said \"hi.\" Then left.", offsets: [13, nil])
        #expect(result.map(\.text) == ["He said \"hi.\"", " Then left."])
        #expect(result.first?.terminator == .period)
    }

    @Test func anOpeningMarkAfterASpaceStartsTheNextClause() throws {
        // "¿Qué? ¡" then "Sí!": the look-ahead "¡" opens the next clause.
        let result = try clauses("¿Qué? ¡Sí!", offsets: [10, nil])
        #expect(result.map(\.text) == ["¿Qué? ", "¡Sí!"])
        #expect(result.map(\.terminator) == [.question, .exclamation])
    }

    @Test func aHeldBackLastCharacterComesWithAnEmptyFinalCall() throws {
        // For "Yes. I" espeak-ng stops at the end with "I" held back, then reads it in one more call.
        let result = try clauses("Yes. I", offsets: [6, nil])
        #expect(result.map(\.text) == ["Yes. ", "I"])
    }

    @Test func aPointerThatMovesBackIsAnEngineFailure() throws {
        var tracker = ClauseSourceTracker(utf8: Array("Hello. World.".utf8))
        _ = try tracker.advance(to: 8, phonemes: "x")
        let error = #expect(throws: VoxError.self) { try tracker.advance(to: 3, phonemes: "x") }
        #expect(error?.kind == .engineFailure)
        let beyond = #expect(throws: VoxError.self) { try tracker.advance(to: 99, phonemes: "x") }
        #expect(beyond?.kind == .engineFailure)
    }
}
