import CEspeakNG
import Foundation
import VoxCore

/// Text to phonemes with libespeak-ng, grouped into sentences exactly as Piper voices expect.
///
/// Thread-safety: libespeak-ng keeps its state (selected voice, text decoder, the character it
/// read ahead) in process-wide globals. This actor must therefore be the only caller of
/// libespeak-ng in the process, which is why it has no public initialiser: use ``shared``.
///
/// Phonemizing is quick next to synthesis, so it runs on the actor's executor rather than a
/// thread pool of its own.
public actor EspeakPhonemizer {
    /// The one instance in the process.
    public static let shared = EspeakPhonemizer()

    /// `phoneme_mode` bit 1 of `espeak_TextToPhonemes`: IPA as UTF-8 (`espeakPHONEMES_IPA` in newer
    /// espeak-ng headers; 1.51 has no name for it).
    private static let ipaPhonemeMode: Int32 = 0x02

    private enum State {
        case uninitialized
        case ready(dataPath: String?)
    }

    private var state = State.uninitialized
    /// The voice espeak-ng has selected, so that a run of calls for one voice selects it once.
    private var selectedVoice: String?

    private init() {}

    /// Initialises libespeak-ng with the data in `dataPath` (the folder that holds `phontab`, or the
    /// folder that holds `espeak-ng-data`), or with the library's default when `nil`.
    ///
    /// Calling this is optional: the other methods initialise with the default on first use. It may
    /// be called again with the same path; a different path after initialisation is an error,
    /// because libespeak-ng cannot be re-pointed safely while in use.
    public func initialize(dataPath: String? = nil) throws {
        if let dataPath { try Self.validate(dataPath: dataPath) }
        if case .ready(let current) = state {
            guard current == dataPath else {
                throw VoxError.invalidInput(
                    "espeak-ng is already initialised with data from \(current ?? "its default location"); "
                        + "pick the data path before the first phonemization."
                )
            }
            return
        }
        // espeakINITIALIZE_DONT_EXIT: without it libespeak-ng calls exit(1) when its data is missing.
        let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, dataPath, espeakINITIALIZE_DONT_EXIT)
        guard rate > 0 else {
            throw VoxError.engineFailure(
                "espeak-ng could not load its data from \(dataPath ?? "its default location"). "
                    + "Install the espeak-ng-data package or pass the folder that holds phontab.",
                detail: "espeak_Initialize returned \(rate)"
            )
        }
        state = .ready(dataPath: dataPath)
        selectedVoice = nil
    }

    /// Phonemizes `text` with the espeak-ng voice `voice` (a name or language such as `en-us`,
    /// `de`, `fr-fr`: what `espeak-ng -v` accepts), one ``PhonemeSentence`` per sentence.
    ///
    /// Text that holds nothing to speak (empty, whitespace, lone punctuation) yields no sentences.
    /// The text is NFC-normalised first (espeak-ng's dictionaries are precomposed, so `cafe`
    /// followed by a combining acute would otherwise read as "cafe"), and control characters other
    /// than tab and line breaks are read as spaces (espeak-ng stops at NUL and treats U+0001 as
    /// the start of an embedded command).
    public func phonemize(_ text: String, voice: String) throws -> [PhonemeSentence] {
        try initializeIfNeeded()
        try select(voice: voice)

        let prepared = Self.prepare(text)
        var tracker = ClauseSourceTracker(utf8: Array(prepared.utf8))
        var assembler = SentenceAssembler()
        var buffer = Array(prepared.utf8)
        buffer.append(0)

        try buffer.withUnsafeBufferPointer { bufferPointer in
            let base = UnsafeRawPointer(bufferPointer.baseAddress!)
            var cursor: UnsafeRawPointer? = base
            var stalled = false
            // espeak-ng translates one clause per call and sets the pointer to NULL at the end.
            while let position = cursor {
                var next: UnsafeRawPointer? = position
                guard let raw = espeak_TextToPhonemes(&next, espeakCHARS_AUTO, Self.ipaPhonemeMode) else {
                    throw VoxError.engineFailure(
                        "espeak-ng could not read the text to phonemize.",
                        detail: "espeak_TextToPhonemes returned NULL"
                    )
                }
                let phonemes = String(cString: raw)
                // One call that does not move the pointer is normal (espeak-ng reads the character
                // it held back); two in a row would loop forever.
                if next == position {
                    if stalled {
                        throw VoxError.engineFailure("espeak-ng stopped advancing through the text.", detail: text)
                    }
                    stalled = true
                } else {
                    stalled = false
                }
                let clause = try tracker.advance(to: next.map { base.distance(to: $0) }, phonemes: phonemes)
                assembler.append(clause)
                cursor = next
            }
        }
        return assembler.finish()
    }

    /// The languages espeak-ng has voices for (`en-us`, `de`, `fr-fr`, …), sorted; each one is a
    /// valid `voice` for ``phonemize(_:voice:)``.
    public func availableVoices() throws -> [String] {
        try initializeIfNeeded()
        let languages = listVoices().compactMap(\.languages.first)
        return Set(languages).sorted()
    }

    /// The library's version and data folder.
    public func info() throws -> EspeakInfo {
        try initializeIfNeeded()
        var path: UnsafePointer<CChar>?
        let version = espeak_Info(&path).map { String(cString: $0) } ?? "unknown"
        return EspeakInfo(version: version, dataPath: path.map { String(cString: $0) } ?? "")
    }

    // MARK: - libespeak-ng boundary

    private func initializeIfNeeded() throws {
        if case .uninitialized = state { try initialize(dataPath: nil) }
    }

    /// Selects `voice` by name, then (as `espeak-ng -v` does) by language, so that `fr-fr` works
    /// although 1.51 only knows the French voice by the name `fr`; last, by the voice file of a
    /// voice that lists the language (1.51 finds `chr-US-Qaaa-x-west` neither way).
    private func select(voice: String) throws {
        if selectedVoice == voice { return }
        selectedVoice = nil
        let name = voice.trimmingCharacters(in: .whitespacesAndNewlines)
        // A failed selection must never be followed by espeak_TextToPhonemes: with no voice
        // selected it dereferences a NULL translator.
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Self.unknownVoice(voice)
        }
        if espeak_SetVoiceByName(name) == EE_OK || selectByLanguage(name) == EE_OK {
            selectedVoice = voice
            return
        }
        let identifier = listVoices().first { entry in
            entry.languages.contains { $0.caseInsensitiveCompare(name) == .orderedSame }
        }?.identifier
        guard let identifier, espeak_SetVoiceByName(identifier) == EE_OK else { throw Self.unknownVoice(voice) }
        selectedVoice = voice
    }

    private func selectByLanguage(_ language: String) -> espeak_ERROR {
        language.withCString { language in
            var properties = espeak_VOICE()
            properties.languages = language
            return espeak_SetVoiceByProperties(&properties)
        }
    }

    /// espeak-ng's voice table: each voice's file (relative to espeak-ng-data/voices) and languages.
    private func listVoices() -> [(identifier: String, languages: [String])] {
        // espeak_ListVoices re-reads the voice files; select the voice afresh afterwards.
        selectedVoice = nil
        guard let list = espeak_ListVoices(nil) else { return [] }
        var voices: [(identifier: String, languages: [String])] = []
        var index = 0
        while let voice = list[index] {
            index += 1
            guard let identifier = voice.pointee.identifier else { continue }
            // `languages` is a run of (priority byte, NUL-terminated name), ended by a zero byte.
            var languages: [String] = []
            if var cursor = voice.pointee.languages {
                while cursor[0] != 0 {
                    let language = String(cString: cursor + 1)
                    languages.append(language)
                    cursor += language.utf8.count + 2
                }
            }
            voices.append((String(cString: identifier), languages))
        }
        return voices
    }

    private static func unknownVoice(_ voice: String) -> VoxError {
        VoxError(
            .unknownVoice,
            "espeak-ng has no voice '\(voice)'. Use a language code it knows, such as en-us, de or fr-fr "
                + "(`espeak-ng --voices` lists them).",
            detail: voice
        )
    }

    private static func validate(dataPath: String) throws {
        let manager = FileManager.default
        let candidates = [dataPath, (dataPath as NSString).appendingPathComponent("espeak-ng-data")]
        guard candidates.contains(where: { manager.fileExists(atPath: ($0 as NSString).appendingPathComponent("phontab")) }) else {
            throw VoxError(
                .modelNotFound,
                "No espeak-ng data in \(dataPath): expected phontab there or in its espeak-ng-data folder. "
                    + "Install the espeak-ng-data package or pass the folder that holds phontab.",
                detail: dataPath
            )
        }
    }

    /// NFC, and control characters other than tab and line breaks replaced by spaces.
    static func prepare(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.precomposedStringWithCanonicalMapping.unicodeScalars {
            let isControl = scalar.properties.generalCategory == .control
            scalars.append(isControl && !"\n\r\t".unicodeScalars.contains(scalar) ? " " : scalar)
        }
        return String(scalars)
    }
}
