import Foundation
import VoxCore

extension BPETokenizer {
    /// The tokenizer in `directory`: `tokenizer.json` when present, else `vocab.json` + `merges.txt`
    /// (with `added_tokens.json` when present).
    public init(directory: URL) throws {
        let json = directory.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: json.path) {
            try self.init(tokenizerJSON: json)
            return
        }
        let vocab = directory.appendingPathComponent("vocab.json")
        let merges = directory.appendingPathComponent("merges.txt")
        guard FileManager.default.fileExists(atPath: vocab.path), FileManager.default.fileExists(atPath: merges.path) else {
            throw VoxError(
                .modelNotFound,
                "No tokenizer in \(directory.path): it needs tokenizer.json, or vocab.json and merges.txt, from the model's repository.",
                detail: directory.path)
        }
        let added = directory.appendingPathComponent("added_tokens.json")
        try self.init(vocabJSON: vocab, mergesTXT: merges, addedTokensJSON: FileManager.default.fileExists(atPath: added.path) ? added : nil)
    }

    /// GPT-2's files: `vocab.json` (token → id) and `merges.txt` (one "left right" pair per line, a
    /// `#version` header allowed). `<|endoftext|>` and the tokens of `added_tokens.json` are matched
    /// whole in the text, as GPT-2's tokenizer does with its special tokens.
    public init(vocabJSON: URL, mergesTXT: URL, addedTokensJSON: URL? = nil) throws {
        let vocabulary = try Self.readStringIntMap(vocabJSON)
        let text: String
        do {
            text = try String(contentsOf: mergesTXT, encoding: .utf8)
        } catch {
            throw VoxError.invalidModel("Cannot read \(mergesTXT.lastPathComponent): \(error.localizedDescription)", path: mergesTXT.path)
        }
        var merges: [(String, String)] = []
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            if line.hasPrefix("#version") { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw VoxError.invalidModel("\(mergesTXT.lastPathComponent) has a line that is not two tokens: '\(line.prefix(40))'.", path: mergesTXT.path)
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        var added: [String: Int] = [:]
        if let id = vocabulary["<|endoftext|>"] { added["<|endoftext|>"] = id }
        if let addedTokensJSON {
            for (token, id) in try Self.readStringIntMap(addedTokensJSON) { added[token] = id }
        }
        self.init(vocabulary: vocabulary, merges: merges, addedTokens: added)
    }

    /// Hugging Face's `tokenizer.json` with a BPE model. Normalizers, pre-tokenizers and
    /// post-processors that this reader does not know are refused with an error that names them.
    public init(tokenizerJSON url: URL) throws {
        let root: [String: Any]
        do {
            let data = try Data(contentsOf: url)
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw VoxError.invalidModel("\(url.lastPathComponent) is not a JSON object.", path: url.path)
            }
            root = object
        } catch let error as VoxError {
            throw error
        } catch {
            throw VoxError.invalidModel("Cannot read \(url.lastPathComponent): \(error.localizedDescription)", path: url.path)
        }
        func fail(_ what: String) -> VoxError {
            VoxError.invalidModel("\(url.lastPathComponent): \(what)", path: url.path)
        }
        guard let model = root["model"] as? [String: Any] else { throw fail("it has no \"model\" section.") }
        if let type = model["type"] as? String, type != "BPE" {
            throw fail("its model is \(type); VoxServe reads BPE tokenizers only.")
        }
        guard let rawVocab = model["vocab"] as? [String: Any] else { throw fail("its model has no vocab.") }
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(rawVocab.count)
        for (token, id) in rawVocab {
            guard let n = (id as? NSNumber)?.intValue else { throw fail("vocab entry '\(token)' has no integer id.") }
            vocabulary[token] = n
        }
        var merges: [(String, String)] = []
        for entry in (model["merges"] as? [Any]) ?? [] {
            if let line = entry as? String {
                let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw fail("merge '\(line.prefix(40))' is not two tokens.") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = entry as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw fail("a merge is neither \"left right\" nor [left, right].")
            }
        }
        var added: [String: Int] = [:]
        for entry in (root["added_tokens"] as? [[String: Any]]) ?? [] {
            if let content = entry["content"] as? String, let id = (entry["id"] as? NSNumber)?.intValue {
                added[content] = id
            }
        }
        let unknownID = (model["unk_token"] as? String).flatMap { vocabulary[$0] ?? added[$0] }
        let normalizations = try Self.normalizations(root["normalizer"], fail: fail)
        let preTokenization = try Self.preTokenization(root["pre_tokenizer"], fail: fail)
        let (prefix, suffix) = try Self.template(root["post_processor"], vocabulary: vocabulary, added: added, fail: fail)
        self.init(
            vocabulary: vocabulary, merges: merges, addedTokens: added, preTokenization: preTokenization,
            normalizations: normalizations, prefixIDs: prefix, suffixIDs: suffix, unknownID: unknownID)
    }

    // MARK: parts of tokenizer.json

    private static func normalizations(_ value: Any?, fail: (String) -> VoxError) throws -> [Normalization] {
        guard let spec = value as? [String: Any], let type = spec["type"] as? String else { return [] }
        switch type {
        case "Sequence":
            return try ((spec["normalizers"] as? [Any]) ?? []).flatMap { try normalizations($0, fail: fail) }
        case "Replace":
            guard let pattern = (spec["pattern"] as? [String: Any])?["String"] as? String, let content = spec["content"] as? String else {
                throw fail("a Replace normalizer with a regex pattern is not supported.")
            }
            return [.replace(pattern, with: content)]
        case "Lowercase": return [.lowercase]
        case "NFC": return [.nfc]
        case "NFD": return [.nfd]
        case "NFKC": return [.nfkc]
        case "NFKD": return [.nfkd]
        case "Strip": return [.strip(left: (spec["strip_left"] as? Bool) ?? true, right: (spec["strip_right"] as? Bool) ?? true)]
        default: throw fail("its normalizer \(type) is not supported.")
        }
    }

    private static func preTokenization(_ value: Any?, fail: (String) -> VoxError) throws -> PreTokenization {
        guard let spec = value as? [String: Any], let type = spec["type"] as? String else { return .none }
        switch type {
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: (spec["add_prefix_space"] as? Bool) ?? false, useRegex: (spec["use_regex"] as? Bool) ?? true)
        case "Whitespace": return .whitespace
        case "WhitespaceSplit": return .whitespaceSplit
        case "Sequence":
            let inner = ((spec["pretokenizers"] as? [Any]) ?? []).map { try? preTokenization($0, fail: fail) }
            if inner.count == 1, let only = inner[0] { return only }
            throw fail("a Sequence pre-tokenizer is supported only with one member.")
        default: throw fail("its pre-tokenizer \(type) is not supported.")
        }
    }

    private static func template(
        _ value: Any?, vocabulary: [String: Int], added: [String: Int], fail: (String) -> VoxError
    ) throws -> ([Int], [Int]) {
        guard let spec = value as? [String: Any], let type = spec["type"] as? String else { return ([], []) }
        switch type {
        case "ByteLevel":
            return ([], [])
        case "Sequence":
            var result: ([Int], [Int]) = ([], [])
            for inner in (spec["processors"] as? [Any]) ?? [] {
                let (p, s) = try template(inner, vocabulary: vocabulary, added: added, fail: fail)
                result.0 += p
                result.1 += s
            }
            return result
        case "TemplateProcessing":
            let specials = (spec["special_tokens"] as? [String: [String: Any]]) ?? [:]
            var prefix: [Int] = []
            var suffix: [Int] = []
            var seenSequence = false
            for item in (spec["single"] as? [[String: Any]]) ?? [] {
                if item["Sequence"] != nil {
                    seenSequence = true
                } else if let special = item["SpecialToken"] as? [String: Any], let name = special["id"] as? String {
                    let ids = (specials[name]?["ids"] as? [NSNumber])?.map(\.intValue)
                        ?? (added[name] ?? vocabulary[name]).map { [$0] }
                    guard let ids else { throw fail("its template names the unknown token \(name).") }
                    if seenSequence { suffix += ids } else { prefix += ids }
                }
            }
            return (prefix, suffix)
        case "BertProcessing", "RobertaProcessing":
            guard let cls = spec["cls"] as? [Any], cls.count == 2, let clsID = (cls[1] as? NSNumber)?.intValue,
                  let sep = spec["sep"] as? [Any], sep.count == 2, let sepID = (sep[1] as? NSNumber)?.intValue
            else { throw fail("its \(type) post-processor lacks cls or sep.") }
            return ([clsID], [sepID])
        default:
            throw fail("its post-processor \(type) is not supported.")
        }
    }

    private static func readStringIntMap(_ url: URL) throws -> [String: Int] {
        do {
            let data = try Data(contentsOf: url)
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw VoxError.invalidModel("\(url.lastPathComponent) is not a JSON object of token ids.", path: url.path)
            }
            var map: [String: Int] = [:]
            map.reserveCapacity(object.count)
            for (token, id) in object {
                guard let n = (id as? NSNumber)?.intValue else {
                    throw VoxError.invalidModel("\(url.lastPathComponent): token '\(token)' has no integer id.", path: url.path)
                }
                map[token] = n
            }
            return map
        } catch let error as VoxError {
            throw error
        } catch {
            throw VoxError.invalidModel("Cannot read \(url.lastPathComponent): \(error.localizedDescription)", path: url.path)
        }
    }
}
