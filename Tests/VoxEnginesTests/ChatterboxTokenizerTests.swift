import Foundation
import Testing
import VoxCore
@testable import VoxEngines

@Suite struct ChatterboxTokenizerTests {
    @Test func gpt2PreTokenizerCutsLikeGPT2sPattern() {
        #expect(GPT2PreTokenizer.split("Hello world") == ["Hello", " world"])
        #expect(GPT2PreTokenizer.split("I'm  here!") == ["I", "'m", " ", " here", "!"])
        #expect(GPT2PreTokenizer.split("they'll 42x") == ["they", "'ll", " 42", "x"])
        #expect(GPT2PreTokenizer.split("a\n\nb  ") == ["a", "\n", "\n", "b", "  "])
        #expect(GPT2PreTokenizer.split("?'s 'x") == ["?'", "s", " '", "x"])
        #expect(GPT2PreTokenizer.split("naïve 日本") == ["naïve", " 日本"])
        let text = "Tabs\tand\r\nmixed   spaces, ok?"
        #expect(GPT2PreTokenizer.split(text).joined() == text)
    }

    @Test func byteAlphabetRoundTripsAndWritesSpaceAsGDot() {
        #expect(ByteLevelAlphabet.encode(" ") == "Ġ")
        #expect(ByteLevelAlphabet.encode("\n") == "Ċ")
        #expect(ByteLevelAlphabet.encode("A") == "A")
        #expect(Set(ByteLevelAlphabet.scalars).count == 256)
        for text in ["Café 🎉", "\u{0}\u{7F}", "日本語"] {
            #expect(ByteLevelAlphabet.decode(ByteLevelAlphabet.encode(text)) == text)
        }
    }

    @Test func tinyTokenizerJSONMatchesTheReferenceEncodings() throws {
        let tokenizer = try BPETokenizer(tokenizerJSON: try ChatterboxFixtures.directory().appendingPathComponent("tokenizer.json"))
        #expect(tokenizer.isByteLevel)
        let cases = try ChatterboxFixtures.expectations("chatterbox-tiny", template: true)
        #expect(cases.count >= 10)
        for (text, ids) in cases {
            #expect(tokenizer.encode(text) == ids, "\(text.debugDescription)")
        }
    }

    @Test func vocabAndMergesFilesGiveTheSameEncodings() throws {
        let dir = try ChatterboxFixtures.directory()
        let tokenizer = try BPETokenizer(
            vocabJSON: dir.appendingPathComponent("vocab.json"), mergesTXT: dir.appendingPathComponent("merges.txt"),
            addedTokensJSON: dir.appendingPathComponent("added_tokens.json"))
        for (text, ids) in try ChatterboxFixtures.expectations("chatterbox-tiny") {
            #expect(tokenizer.encode(text) == ids, "\(text.debugDescription)")
        }
    }

    @Test func addedTokensAreMatchedWholeBeforeBPE() throws {
        let tokenizer = try BPETokenizer(directory: try ChatterboxFixtures.directory())
        let chuckle = try #require(tokenizer.id(for: "[chuckle]"))
        let ids = tokenizer.encode("Um [chuckle] ok")
        #expect(ids.filter { $0 == chuckle }.count == 1)
        // Without the added token the same characters are several BPE pieces.
        #expect(tokenizer.encode("[chuck le]").contains(chuckle) == false)
    }

    @Test func characterTokenizerAddsItsTemplateAndMapsUnknownCharacters() throws {
        let tokenizer = try BPETokenizer(directory: try ChatterboxFixtures.directory("chatterbox-tiny-original"))
        #expect(!tokenizer.isByteLevel)
        #expect(tokenizer.prefixIDs == [255])
        #expect(tokenizer.suffixIDs == [0])
        for (text, ids) in try ChatterboxFixtures.expectations("chatterbox-tiny-original") {
            #expect(tokenizer.encode(text) == ids, "\(text)")
        }
        #expect(tokenizer.encode("ë", addSpecialTokens: false) == [1])
    }

    @Test func aFolderWithoutTokenizerFilesIsModelNotFound() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("vox-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let error = #expect(throws: VoxError.self) { _ = try BPETokenizer(directory: empty) }
        #expect(error?.kind == .modelNotFound)
    }

    @Test func textNormalizerCapitalisesPlainsPunctuationAndEndsSentences() {
        #expect(ChatterboxTextNormalizer.normalize("hello   world") == "Hello world.")
        #expect(ChatterboxTextNormalizer.normalize("Wait… what—really") == "Wait, what-really.")
        #expect(ChatterboxTextNormalizer.normalize("“Quoted” it’s fine!") == "\"Quoted\" it's fine!")
        #expect(ChatterboxTextNormalizer.normalize("Ends with a tag [laugh]") == "Ends with a tag [laugh]")
    }

    /// GPT-2's own vocabulary: where setup installed it (`.deps/gpt2-tokenizer`) or
    /// `VOXSERVE_GPT2_TOKENIZER_DIR`; the real Chatterbox Turbo tokenizer when `VOXSERVE_CHATTERBOX_DIR` is set.
    static let gpt2Cases: [(String, [Int])] = [
        ("Hello world", [15496, 995]),
        ("Hello, world!", [15496, 11, 995, 0]),
        (" Hello", [18435]),
        ("hello world", [31373, 995]),
        ("<|endoftext|>", [50256]),
        ("The quick brown fox jumps over the lazy dog.", [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]),
        // These from the fixture script's Python BPE over GPT-2's vocabulary:
        ("I'm sure they'll say it's 2026!", [40, 1101, 1654, 484, 1183, 910, 340, 338, 1160, 2075, 0]),
        ("Café déjà vu — naïve?", [34, 1878, 2634, 39073, 73, 24247, 410, 84, 851, 41492, 30]),
        ("Oh, that's hilarious!  Um anyway\n", [5812, 11, 326, 338, 20105, 0, 220, 21039, 6949, 198]),
    ]

    /// Folders holding GPT-2's vocabulary or the real Chatterbox tokenizer, where given.
    static func gpt2TokenizerDirectories() -> [URL] {
        let env = ProcessInfo.processInfo.environment
        var dirs: [URL] = []
        if let d = env["VOXSERVE_GPT2_TOKENIZER_DIR"], !d.isEmpty { dirs.append(URL(fileURLWithPath: d)) }
        if let deps = VoxPaths.fromEnvironment(ProcessInfo.processInfo.environment).depsDirectory { dirs.append(deps.appendingPathComponent("gpt2-tokenizer")) }
        if let d = env["VOXSERVE_CHATTERBOX_DIR"], !d.isEmpty { dirs.append(URL(fileURLWithPath: d)) }
        return dirs.filter {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent("tokenizer.json").path)
                || FileManager.default.fileExists(atPath: $0.appendingPathComponent("vocab.json").path)
        }
    }

    @Test(
        .enabled(
            if: !gpt2TokenizerDirectories().isEmpty,
            "needs GPT-2's vocab.json + merges.txt in .deps/gpt2-tokenizer or VOXSERVE_GPT2_TOKENIZER_DIR, or the real model in VOXSERVE_CHATTERBOX_DIR"))
    func gpt2VocabularyGivesGPT2sKnownEncodings() throws {
        for dir in Self.gpt2TokenizerDirectories() {
            let tokenizer = try BPETokenizer(directory: dir)
            for (text, ids) in Self.gpt2Cases {
                #expect(tokenizer.encode(text) == ids, "\(text.debugDescription) with \(dir.path)")
            }
        }
    }
}
