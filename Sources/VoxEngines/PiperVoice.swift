import Foundation
import VoxCore

/// A Piper (VITS) voice on disk: `NAME.onnx` and its `NAME.onnx.json` config.
public struct PiperVoice: Sendable, Equatable {
    public struct Inference: Sendable, Equatable {
        public var noiseScale: Float
        public var lengthScale: Float
        public var noiseW: Float
    }

    public var name: String
    public var modelURL: URL
    public var configURL: URL
    public var sampleRate: Int
    /// espeak-ng voice used for phonemes, e.g. "en-us".
    public var espeakVoice: String
    public var inference: Inference
    public var phonemeIDMap: [String: [Int64]]
    public var numSpeakers: Int
    public var speakerIDMap: [String: Int]
    /// The config's `language.code`, e.g. "en_US".
    public var language: String?
    /// What the config says of where the voice comes from: `dataset`, `audio.quality`,
    /// `piper_version`, and the language in English ("English (United States)").
    public var about = About()

    public struct About: Sendable, Equatable {
        public var dataset: String?
        public var quality: String?
        public var piperVersion: String?
        public var languageName: String?

        /// One line for a voice list: "English (United States), dataset joe, medium quality".
        public var summary: String {
            [languageName, dataset.map { "dataset \($0)" }, quality.map { "\($0) quality" }].compactMap { $0 }.joined(separator: ", ")
        }
    }

    /// Speaker names in id order for a multi-speaker voice (the config's `speaker_id_map`, or the
    /// ids as text when it has none); empty for a single-speaker voice.
    public var speakerNames: [String] {
        guard numSpeakers > 1 else { return [] }
        var names = (0..<numSpeakers).map(String.init)
        for (name, id) in speakerIDMap where names.indices.contains(id) { names[id] = name }
        return names
    }

    /// Loads the config beside `modelURL` (`.onnx.json`, or `.json` in place of `.onnx`).
    public static func load(modelURL: URL) throws -> PiperVoice {
        let fm = FileManager.default
        guard fm.fileExists(atPath: modelURL.path) else { throw VoxError.modelNotFound(modelURL.path) }
        let candidates = [
            URL(fileURLWithPath: modelURL.path + ".json"),
            modelURL.deletingPathExtension().appendingPathExtension("json"),
        ]
        guard let configURL = candidates.first(where: { fm.fileExists(atPath: $0.path) }) else {
            throw VoxError.invalidModel(
                "The Piper voice \(modelURL.lastPathComponent) has no config: put \(modelURL.lastPathComponent).json beside it.",
                path: modelURL.path)
        }
        let data: Data
        do { data = try Data(contentsOf: configURL) } catch {
            throw VoxError.io("Cannot read \(configURL.path): \(error.localizedDescription)", path: configURL.path)
        }
        return try parse(config: data, modelURL: modelURL, configURL: configURL)
    }

    /// More speakers than any Piper voice has (the largest published ones, libritts, have about
    /// 900). A config that declares more is damaged, and `speakerNames` would name every one.
    static let maxSpeakers = 10_000
    /// The sample rates a voice may declare: the audio decoder's range. Beyond it the encoders'
    /// 32-bit header fields overflow (a crash on every request for the voice).
    static let sampleRates = 1000...768_000

    static func parse(config data: Data, modelURL: URL, configURL: URL) throws -> PiperVoice {
        let bad = { (what: String) in
            VoxError.invalidModel("The Piper config \(configURL.lastPathComponent) is invalid: \(what).", path: configURL.path)
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw bad("not a JSON object") }
        guard let audio = json["audio"] as? [String: Any], let declaredRate = audio["sample_rate"] as? NSNumber else {
            throw bad("audio.sample_rate is missing")
        }
        // Read as a Double: NSNumber.intValue wraps a huge number into any Int at all.
        guard let rate = Int(exactly: declaredRate.doubleValue), sampleRates.contains(rate) else {
            throw bad("audio.sample_rate is \(declaredRate), where a voice runs at \(sampleRates.lowerBound)–\(sampleRates.upperBound) Hz")
        }
        guard let rawMap = json["phoneme_id_map"] as? [String: Any], !rawMap.isEmpty else { throw bad("phoneme_id_map is missing") }
        var map: [String: [Int64]] = [:]
        for (phoneme, ids) in rawMap {
            guard let list = ids as? [NSNumber] else { throw bad("phoneme_id_map[\(phoneme)] is not a list of ids") }
            map[phoneme] = list.map { $0.int64Value }
        }
        for required in ["^", "_", "$"] where map[required] == nil {
            throw bad("phoneme_id_map lacks '\(required)'")
        }
        let espeak = (json["espeak"] as? [String: Any])?["voice"] as? String ?? "en-us"
        let inf = json["inference"] as? [String: Any] ?? [:]
        func f(_ key: String, _ fallback: Float) -> Float { (inf[key] as? NSNumber)?.floatValue ?? fallback }
        // A Double too: a count beyond Int's range must not wrap into a small one.
        let declaredSpeakers = (json["num_speakers"] as? NSNumber)?.doubleValue ?? 1
        guard declaredSpeakers <= Double(maxSpeakers) else {
            throw bad("num_speakers is \(declaredSpeakers), where a Piper voice has at most \(maxSpeakers)")
        }
        let speakers = declaredSpeakers < 1 ? 1 : Int(declaredSpeakers)
        var speakerMap: [String: Int] = [:]
        for (k, v) in json["speaker_id_map"] as? [String: Any] ?? [:] {
            if let id = (v as? NSNumber)?.intValue { speakerMap[k] = id }
        }
        let languageInfo = json["language"] as? [String: Any] ?? [:]
        let language = languageInfo["code"] as? String
        var about = About(
            dataset: json["dataset"] as? String, quality: audio["quality"] as? String, piperVersion: json["piper_version"] as? String)
        if let english = languageInfo["name_english"] as? String {
            about.languageName = (languageInfo["country_english"] as? String).map { "\(english) (\($0))" } ?? english
        }
        var name = modelURL.lastPathComponent
        if name.hasSuffix(".onnx") { name.removeLast(5) }
        return PiperVoice(
            name: name, modelURL: modelURL, configURL: configURL, sampleRate: rate, espeakVoice: espeak,
            inference: Inference(noiseScale: f("noise_scale", 0.667), lengthScale: f("length_scale", 1), noiseW: f("noise_w", 0.8)),
            phonemeIDMap: map, numSpeakers: speakers, speakerIDMap: speakerMap, language: language, about: about)
    }

    /// Model ids for one sentence's phonemes, as piper does it: `^`, `_`, then each phoneme
    /// (a Unicode scalar) followed by `_`, then `$`. Phonemes missing from the map are skipped
    /// and returned in `missing`.
    public func phonemeIDs(for phonemes: String) -> (ids: [Int64], missing: Set<String>) {
        let pad = phonemeIDMap["_"]!
        var ids = phonemeIDMap["^"]! + pad
        var missing = Set<String>()
        for scalar in phonemes.unicodeScalars {
            let key = String(scalar)
            guard let mapped = phonemeIDMap[key] else {
                missing.insert(key)
                continue
            }
            ids += mapped
            ids += pad
        }
        ids += phonemeIDMap["$"]!
        return (ids, missing)
    }

    /// Resolves a speaker given by number or by name in `speaker_id_map`.
    public func speakerID(_ requested: Int?) throws -> Int {
        let id = requested ?? 0
        guard id >= 0 && id < numSpeakers else {
            throw VoxError.invalidInput("Voice \(name) has \(numSpeakers) speaker(s); speaker \(id) does not exist (use 0…\(numSpeakers - 1)).")
        }
        return id
    }

    /// Identifies the model file for cache keys (`ModelFingerprint`).
    public var fingerprint: String { ModelFingerprint.of(modelURL) }
}
