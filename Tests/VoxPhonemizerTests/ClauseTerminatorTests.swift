import Testing
@testable import VoxPhonemizer

/// Reading a clause's terminator back from its source text (espeak-ng 1.51 does not report it).
@Suite struct ClauseTerminatorTests {
    @Test(arguments: [
        ("Hello.", ClauseTerminator.period),
        ("Hello. ", .period),
        ("Hi..", .period),
        ("Wait...", .ellipsis),
        ("Wait\u{2026}", .ellipsis),
        ("Why?", .question),
        ("What?!", .question),
        ("No!?", .exclamation),
        ("Wow!!", .exclamation),
        ("Hello,  ", .comma),
        ("Note:", .colon),
        ("One;", .semicolon),
        ("\u{4F60}\u{597D}\u{3002}", .fullWidthSentenceEnd),
        ("Wait \u{2014} ", .semicolon),  // espeak-ng: a dash ends a clause like ";" (PiperParityTests)
        ("Then \u{2013} ", .semicolon),
        ("no terminator", .none),
        ("", .none),
    ])
    func classifiesTheLastPunctuation(text: String, expected: ClauseTerminator) {
        #expect(ClauseTerminator(clauseText: Substring(text).unicodeScalars) == expected)
    }

    @Test func rendersAsPiperDoes() {
        #expect(ClauseTerminator.period.phonemeSuffix == ".")
        #expect(ClauseTerminator.question.phonemeSuffix == "?")
        #expect(ClauseTerminator.exclamation.phonemeSuffix == "!")
        #expect(ClauseTerminator.comma.phonemeSuffix == ", ")
        #expect(ClauseTerminator.colon.phonemeSuffix == ": ")
        #expect(ClauseTerminator.semicolon.phonemeSuffix == "; ")
        #expect(ClauseTerminator.ellipsis.phonemeSuffix.isEmpty)
        #expect(ClauseTerminator.none.phonemeSuffix.isEmpty)
        let ending = [ClauseTerminator.period, .question, .exclamation, .comma, .colon, .semicolon, .ellipsis, .fullWidthSentenceEnd, .none]
            .filter(\.endsSentence)
        #expect(ending == [.period, .question, .exclamation, .fullWidthSentenceEnd])
    }

    @Test(arguments: [
        ("First line\n\n", true),
        ("First line\n \t\n ", true),
        ("First line\u{2029}", true),
        ("First line\n", false),
        ("First\n\nline ", false),
    ])
    func aBlankLineAfterTheClauseIsAParagraph(text: String, expected: Bool) {
        #expect(ClauseTerminator.endsParagraph(Substring(text).unicodeScalars) == expected)
    }
}
