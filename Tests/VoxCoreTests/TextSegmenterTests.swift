import Testing
import VoxCore

@Suite struct TextSegmenterTests {
    let segmenter = TextSegmenter()

    @Test func sentencesEndAtAPeriodExclamationOrQuestionMarkFollowedBySpace() {
        #expect(segmenter.sentences("It rained. We stayed in! Did you?") == ["It rained.", "We stayed in!", "Did you?"])
        #expect(segmenter.sentences("Hello world") == ["Hello world"])
    }

    @Test func aPeriodInsideAWordDoesNotEndTheSentence() {
        #expect(segmenter.sentences("Visit example.com today. Bye.") == ["Visit example.com today.", "Bye."])
    }

    @Test func abbreviationsDoNotEndASentence() {
        #expect(segmenter.sentences("Dr. Smith met Mr. Jones. They talked.") == ["Dr. Smith met Mr. Jones.", "They talked."])
        #expect(segmenter.sentences("Bring fruit, e.g. apples, i.e. red ones. Done.") == ["Bring fruit, e.g. apples, i.e. red ones.", "Done."])
        #expect(segmenter.sentences("Apples, pears, etc. are fruit. Yes.") == ["Apples, pears, etc. are fruit.", "Yes."])
        #expect(segmenter.sentences("Mrs. Hudson and Prof. Moriarty vs. Sherlock. End.") == ["Mrs. Hudson and Prof. Moriarty vs. Sherlock.", "End."])
        // Matched without regard to case.
        #expect(segmenter.sentences("DR. NO arrived. Run.") == ["DR. NO arrived.", "Run."])
    }

    @Test func singleCapitalInitialsDoNotEndASentence() {
        #expect(segmenter.sentences("J. R. R. Tolkien wrote books. He died.") == ["J. R. R. Tolkien wrote books.", "He died."])
    }

    @Test func noIsAnAbbreviationOnlyBeforeANumber() {
        // "No. 5" is a number; "the answer is no." ends a sentence (it used to swallow the next one).
        #expect(segmenter.sentences("Room No. 5 is free. The answer is no. We leave.") == ["Room No. 5 is free.", "The answer is no.", "We leave."])
        #expect(segmenter.sentences("I said no.") == ["I said no."])
    }

    @Test func decimalNumbersAreNotSplit() {
        #expect(segmenter.sentences("Pi is 3.14 and e is 2.718. Next.") == ["Pi is 3.14 and e is 2.718.", "Next."])
        #expect(segmenter.sentences("version 2.0 is out.") == ["version 2.0 is out."])
        #expect(segmenter.sentences("It costs $4.50. Pay now.") == ["It costs $4.50.", "Pay now."])
        #expect(segmenter.sentences("Wait .5 seconds. Go.") == ["Wait .5 seconds.", "Go."])
        #expect(segmenter.sentences("192.168.0.1 is local.") == ["192.168.0.1 is local."])
    }

    @Test func aNumberAtTheEndOfASentenceStillEndsIt() {
        #expect(segmenter.sentences("The total was 42. Then we left.") == ["The total was 42.", "Then we left."])
    }

    @Test func closingQuotesAndBracketsStayWithTheSentenceTheyClose() {
        #expect(segmenter.sentences("He said \"Stop.\" Then he left.") == ["He said \"Stop.\"", "Then he left."])
        #expect(segmenter.sentences("(See the note.) Next one.") == ["(See the note.)", "Next one."])
        #expect(segmenter.sentences("[Citation needed.] Next.") == ["[Citation needed.]", "Next."])
        #expect(segmenter.sentences("She wrote \u{2018}done.\u{2019} We agreed.") == ["She wrote \u{2018}done.\u{2019}", "We agreed."])
        #expect(segmenter.sentences("It was \u{201C}fine!\u{201D} Really.") == ["It was \u{201C}fine!\u{201D}", "Really."])
        #expect(segmenter.sentences("'Why?') he asked.") == ["'Why?')", "he asked."])
    }

    @Test func runsOfTerminatorsStayTogether() {
        #expect(segmenter.sentences("Really?! Yes. Wait... what?") == ["Really?!", "Yes.", "Wait...", "what?"])
        #expect(segmenter.sentences("No way!!! Okay?? Fine.") == ["No way!!!", "Okay??", "Fine."])
        // An ellipsis after an abbreviation ends the sentence.
        #expect(segmenter.sentences("Apples, pears, etc... Anyway.") == ["Apples, pears, etc...", "Anyway."])
    }

    @Test func aBlankLineEndsASentenceWithoutPunctuation() {
        #expect(segmenter.sentences("Para one\n\nPara two") == ["Para one", "Para two"])
        #expect(segmenter.sentences("Heading\n\n\nBody text. More text.") == ["Heading", "Body text.", "More text."])
    }

    @Test func windowsLineEndingsSplitLikeUnixOnes() {
        // "\r\n" is one Character in Swift; it used to be no terminator, so CRLF paragraphs ran together.
        #expect(segmenter.sentences("Para one\r\n\r\nPara two") == ["Para one", "Para two"])
        #expect(segmenter.sentences("Line one.\r\nLine two.") == ["Line one.", "Line two."])
    }

    @Test func aSingleLineBreakInsideASentenceDoesNotSplitIt() {
        // Hard-wrapped text: the sentence continues on the next line.
        #expect(segmenter.sentences("a line wrapped\nin the middle.") == ["a line wrapped\nin the middle."])
        #expect(segmenter.sentences("Line one.\nLine two.") == ["Line one.", "Line two."])
    }

    @Test func surroundingWhitespaceIsTrimmed() {
        #expect(segmenter.sentences("  Hello.   World.  \n") == ["Hello.", "World."])
        #expect(segmenter.sentences("\tTabbed.\tNext.") == ["Tabbed.", "Next."])
    }

    @Test func fullWidthTerminatorsEndASentenceWithoutASpaceAfterThem() {
        // Chinese and Japanese put no space between sentences; these used to come back as one.
        #expect(segmenter.sentences("你好。今天天气很好！你呢？") == ["你好。", "今天天气很好！", "你呢？"])
        #expect(segmenter.sentences("こんにちは。元気ですか？はい！") == ["こんにちは。", "元気ですか？", "はい！"])
        #expect(segmenter.sentences("你好！？真的。") == ["你好！？", "真的。"])
        #expect(segmenter.sentences("你好。 世界。") == ["你好。", "世界。"])
    }

    @Test func fullWidthClosingBracketsStayWithTheSentenceTheyClose() {
        #expect(segmenter.sentences("「你好。」他说。") == ["「你好。」", "他说。"])
        #expect(segmenter.sentences("（注意。）好的。") == ["（注意。）", "好的。"])
    }

    @Test func emptyOrBlankTextHasNoSentences() {
        #expect(segmenter.sentences("").isEmpty)
        #expect(segmenter.sentences("   \n\t ").isEmpty)
        #expect(segmenter.sentences("\n\n\n").isEmpty)
        #expect(segmenter.sentences("\r\n\r\n").isEmpty)
    }

    @Test func punctuationOnlyTextIsOneSentence() {
        // Engines decide whether it is speakable.
        #expect(segmenter.sentences("...!?") == ["...!?"])
    }

    @Test func longSentencesAreSplitAtSpacesIntoPartsNoLongerThanTheLimit() {
        let short = TextSegmenter(maxSentenceLength: 20)
        // A part may be exactly the limit ("five six seven eight" is 20 characters).
        #expect(short.sentences("one two three four five six seven eight nine ten eleven") == ["one two three four", "five six seven eight", "nine ten eleven"])
        // The default limit is 300: 80 words of 4 letters (399 characters) make 60 + 20 words.
        let word = Array(repeating: "word", count: 80)
        #expect(segmenter.sentences(word.joined(separator: " ")) == [word[..<60].joined(separator: " "), word[60...].joined(separator: " ")])
    }

    @Test func longSentencesBreakAfterACommaOnceHalfTheLimitIsFilled() {
        let segmenter = TextSegmenter(maxSentenceLength: 30)
        // "Well," is under half the limit, so it does not break; "…blue," is over, so the part ends
        // there although "cyan" would fit.
        #expect(segmenter.sentences("Well, red green blue, cyan magenta yellow black white") == ["Well, red green blue,", "cyan magenta yellow black", "white"])
        // Semicolons and colons count as commas.
        #expect(segmenter.sentences("first second third; fourth fifth sixth seventh") == ["first second third;", "fourth fifth sixth seventh"])
        #expect(segmenter.sentences("first second third: fourth fifth sixth seventh") == ["first second third:", "fourth fifth sixth seventh"])
    }

    @Test func sentencesWithinTheLimitAreNotSplitAtCommas() {
        let segmenter = TextSegmenter(maxSentenceLength: 20)
        #expect(segmenter.sentences("Yes, no, maybe, ok.") == ["Yes, no, maybe, ok."])
    }

    @Test func eachSentenceIsSplitOnItsOwn() {
        let segmenter = TextSegmenter(maxSentenceLength: 20)
        #expect(segmenter.sentences("Short one. one two three four five six seven.") == ["Short one.", "one two three four", "five six seven."])
    }

    @Test func aWordLongerThanTheLimitIsKeptWhole() {
        let segmenter = TextSegmenter(maxSentenceLength: 20)
        #expect(segmenter.sentences("Supercalifragilisticexpialidocious words here") == ["Supercalifragilisticexpialidocious", "words here"])
    }

    // Text that is still arriving (Wyoming's synthesize-chunk, from a language model).

    @Test func aSentenceIsCompleteOnlyOnceMoreWordsFollowIt() {
        #expect(segmenter.completeSentences("The first sente") == ([], "The first sente"))
        // "here." may yet continue ("here.5"), and "here. " may yet be an abbreviation's period.
        #expect(segmenter.completeSentences("It ends here.") == ([], "It ends here."))
        #expect(segmenter.completeSentences("It ends here. ") == ([], "It ends here. "))
        #expect(segmenter.completeSentences("It ends here. The sec") == (["It ends here."], "The sec"))
        #expect(segmenter.completeSentences("One. Two! Three? Fou") == (["One.", "Two!", "Three?"], "Fou"))
    }

    @Test func anAbbreviationOrANumberDoesNotCompleteASentence() {
        #expect(segmenter.completeSentences("Ask Dr. Smith") == ([], "Ask Dr. Smith"))
        #expect(segmenter.completeSentences("Pi is 3.14 or so") == ([], "Pi is 3.14 or so"))
        #expect(segmenter.completeSentences("Room No. 5 is free. Go") == (["Room No. 5 is free."], "Go"))
    }

    @Test func piecesJoinedGiveTheSameSentencesAsTheWholeText() {
        let text = "The first sentence is short. The second one, with a comma, is longer! Is the third a question? The end."
        var buffer = ""
        var spoken: [String] = []
        for piece in stride(from: 0, to: text.count, by: 7).map({ String(Array(text)[$0..<min($0 + 7, text.count)]) }) {
            buffer += piece
            let (complete, rest) = segmenter.completeSentences(buffer)
            spoken += complete
            buffer = rest
        }
        spoken += segmenter.sentences(buffer)
        #expect(spoken == segmenter.sentences(text))
        #expect(spoken.count == 4)
    }

    @Test func aLongRestWithoutAnEndIsSpokenInPartsSoItStaysBounded() {
        let segmenter = TextSegmenter(maxSentenceLength: 20)
        let (complete, rest) = segmenter.completeSentences("one two three four five six seven eight nine")
        #expect(complete == ["one two three four", "five six seven eight"])
        #expect(rest == "nine")
    }
}
