import Testing
@testable import VoxPhonemizer

/// Grouping clauses into sentences, without espeak-ng.
@Suite struct SentenceAssemblerTests {
    private func assemble(_ clauses: [EspeakClause]) -> [PhonemeSentence] {
        var assembler = SentenceAssembler()
        for clause in clauses { assembler.append(clause) }
        return assembler.finish()
    }

    private func clause(_ phonemes: String, _ text: String, _ terminator: ClauseTerminator, paragraph: Bool = false) -> EspeakClause {
        EspeakClause(phonemes: phonemes, text: text, terminator: terminator, endsParagraph: paragraph)
    }

    @Test func sentenceEndsCloseAndOtherTerminatorsContinue() {
        let sentences = assemble([
            clause("a", "A, ", .comma),
            clause("b", "b. ", .period),
            clause("c", "C? ", .question),
            clause("d", "D!", .exclamation),
        ])
        #expect(sentences == [
            PhonemeSentence(text: "A, b.", phonemes: "a, b."),
            PhonemeSentence(text: "C?", phonemes: "c?"),
            PhonemeSentence(text: "D!", phonemes: "d!"),
        ])
    }

    @Test func clausesWithoutPunctuationAreJoinedWithOneSpace() {
        let sentences = assemble([clause("a", "A \u{2014} ", .none), clause("b", "b... ", .ellipsis), clause("c", "c", .none)])
        #expect(sentences.map(\.phonemes) == ["a b c"])
    }

    @Test func languageFlagsAreRemovedAndPhonemesDecomposed() {
        let sentences = assemble([clause("ɛlˈo (en)wˈɜːld(fr) \u{00E7}", "…", .none)])
        // Swift's == treats "ç" and "c" + U+0327 as equal, so the code points are compared.
        #expect(sentences.map { Array($0.phonemes.unicodeScalars) } == [Array("ɛlˈo wˈɜːld c\u{0327}".unicodeScalars)])
    }

    @Test func aParagraphEndsTheSentenceWithoutPunctuation() {
        let sentences = assemble([clause("a", "A\n\n", .none, paragraph: true), clause("b", "B", .none)])
        #expect(sentences.map(\.phonemes) == ["a", "b"])
        #expect(sentences.map(\.text) == ["A", "B"])
    }

    @Test func aClauseWithoutPhonemesAddsNoLoneTerminator() {
        let sentences = assemble([clause("", "?! ", .question), clause("a", "A.", .period), clause("", " .", .period)])
        #expect(sentences.map(\.phonemes) == ["a."])
    }

    @Test func nothingGivesNoSentences() {
        #expect(assemble([]).isEmpty)
        #expect(assemble([clause("", "  ", .none)]).isEmpty)
    }
}
