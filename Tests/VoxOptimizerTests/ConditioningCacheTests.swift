import Foundation
import Testing
import VoxCore
import VoxONNX

@testable import VoxOptimizer

@Suite("ConditioningKey")
struct ConditioningKeyTests {
    @Test func digestIsSixtyFourLowercaseHexCharacters() {
        let digest = makeKey(wavBytes(seed: 1)).digest
        #expect(digest.count == 64)
        #expect(digest.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test func keyDependsOnContentNotOnTheReferenceLabel() {
        let data = wavBytes(seed: 1)
        let a = ConditioningKey(reference: VoiceReference(data: data, label: "alice.wav"), engine: "e", modelFingerprint: "m")
        let b = ConditioningKey(reference: VoiceReference(data: data, label: "/elsewhere/bob.wav"), engine: "e", modelFingerprint: "m")
        let c = ConditioningKey(reference: VoiceReference(data: wavBytes(seed: 2), label: "alice.wav"), engine: "e", modelFingerprint: "m")
        #expect(a.digest == b.digest)
        #expect(a.digest != c.digest)
        #expect(a.referenceSHA256 != c.referenceSHA256)
    }

    @Test func engineModelAndEveryParameterChangeTheDigest() {
        let data = wavBytes(seed: 1)
        let base = makeKey(data, parameters: ["sample_rate": "24000"])
        let variants = [
            makeKey(data, engine: "other-engine", parameters: ["sample_rate": "24000"]),
            makeKey(data, fingerprint: "model-2", parameters: ["sample_rate": "24000"]),
            makeKey(data, parameters: ["sample_rate": "16000"]),
            makeKey(data, parameters: ["sample_rate": "24000", "trim_db": "20"]),
            makeKey(data),
        ]
        #expect(Set(variants.map(\.digest) + [base.digest]).count == variants.count + 1)
        #expect(makeKey(data, parameters: ["sample_rate": "24000"]).digest == base.digest)
    }

    @Test func fieldBoundariesCannotBeShifted() {
        let data = wavBytes(seed: 1)
        #expect(makeKey(data, engine: "ab", fingerprint: "c").digest != makeKey(data, engine: "a", fingerprint: "bc").digest)
        #expect(makeKey(data, parameters: ["a": "bc"]).digest != makeKey(data, parameters: ["ab": "c"]).digest)
        #expect(makeKey(data, parameters: ["a": "", "b": ""]).digest != makeKey(data, parameters: ["a": "b"]).digest)
    }
}

@Suite("ConditioningFileFormat")
struct ConditioningFileFormatTests {
    @Test func entryRoundTripsWithEmptyAndScalarTensors() throws {
        let key = makeKey(wavBytes(seed: 3), parameters: ["exaggeration": "0.5"])
        let value: Conditioning = [
            "speaker_features": Tensor(float32: (0..<240).map(Float.init), shape: [1, 3, 80]),
            "audio_tokens": Tensor(int64: [4299, 6562], shape: [1, 2]),
            "empty": Tensor(float32: [], shape: [1, 0]),
            "scalar": Tensor(float16: [1], shape: []),
        ]
        let bytes = try ConditioningFileFormat.encode(value, for: key)
        #expect(try ConditioningFileFormat.decode(bytes, for: key) == value)

        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(bytes[i]) << (8 * i) }
        #expect((8 + headerLength) % 8 == 0, "tensor data starts 8-byte aligned")
        #expect(bytes.count == 8 + headerLength + value.byteCount + 32)
        let header = try #require(String(data: bytes[8..<(8 + headerLength)], encoding: .utf8))
        #expect(header.contains("\"version\":1"))
        #expect(header.contains(key.digest))
        #expect(header.contains("\"dtype\":\"I64\""))
    }

    @Test func everyStoredElementTypeRoundTripsUnderItsSafetensorsName() throws {
        let key = makeKey(wavBytes(seed: 4))
        let value: Conditioning = [
            "f32": Tensor(float32: [1.5, -2], shape: [2]),
            "f16": Tensor(float16: [0.5], shape: [1]),
            "bf16": Tensor(elementType: .bfloat16, shape: [1], bytes: Data([0x80, 0x3F])),
            "f64": Tensor(elementType: .double, shape: [1], bytes: Data(count: 8)),
            "i64": Tensor(int64: [Int64.max], shape: [1]),
            "i32": Tensor(int32: [-7], shape: [1]),
            "i8": Tensor(elementType: .int8, shape: [2], bytes: Data([0xFF, 1])),
            "u8": Tensor(elementType: .uint8, shape: [1], bytes: Data([200])),
            "bool": Tensor(bool: [true, false], shape: [2]),
        ]
        let bytes = try ConditioningFileFormat.encode(value, for: key)
        let decoded = try ConditioningFileFormat.decode(bytes, for: key)
        #expect(decoded == value)
        #expect(decoded["f32"]?.floats() == [1.5, -2])
        #expect(decoded["bf16"]?.floats() == [1])
        let header = try #require(String(data: bytes, encoding: .isoLatin1))
        for name in ["F32", "F16", "BF16", "F64", "I64", "I32", "I8", "U8", "BOOL"] {
            #expect(header.contains("\"dtype\":\"\(name)\""), "\(name) in the header")
        }
    }

    @Test func aTensorTypeTheFormatCannotNameIsRefused() {
        let value: Conditioning = ["odd": Tensor(elementType: .other, shape: [0], bytes: Data())]
        #expect(throws: VoxError.self) { try ConditioningFileFormat.encode(value, for: makeKey(wavBytes(seed: 5))) }
    }

    @Test func anEntryIsRejectedForAnyOtherKey() throws {
        let value = try fakeConditioning(from: wavBytes(seed: 1))
        let bytes = try ConditioningFileFormat.encode(value, for: makeKey(wavBytes(seed: 1)))
        #expect(throws: VoxError.self) { try ConditioningFileFormat.decode(bytes, for: makeKey(wavBytes(seed: 2))) }
        #expect(throws: VoxError.self) { try ConditioningFileFormat.decode(bytes, for: makeKey(wavBytes(seed: 1), fingerprint: "model-2")) }
    }
}

/// How a test damages a disk entry.
enum EntryDamage: String, CaseIterable, CustomTestStringConvertible {
    case flipTensorByte, flipHeaderByte, flipChecksumByte, truncateToHalf, dropChecksum, emptyFile, garbage
    case wrongFormatVersion, otherFormatName, entryOfAnotherKey

    var testDescription: String { rawValue }

    func apply(to url: URL, key: ConditioningKey, value: Conditioning) throws {
        var bytes = try Data(contentsOf: url)
        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(bytes[i]) << (8 * i) }
        switch self {
        case .flipTensorByte: bytes[8 + headerLength + 5] ^= 0x40
        case .flipHeaderByte: bytes[8 + headerLength / 2] ^= 0x01
        case .flipChecksumByte: bytes[bytes.count - 1] ^= 0xFF
        case .truncateToHalf: bytes = bytes.prefix(bytes.count / 2)
        case .dropChecksum: bytes = bytes.dropLast(32)
        case .emptyFile: bytes = Data()
        case .garbage: bytes = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
        case .wrongFormatVersion: bytes = try ConditioningFileFormat.encode(value, for: key, version: 2)
        case .otherFormatName: bytes = try ConditioningFileFormat.encode(value, for: key, format: "safetensors")
        case .entryOfAnotherKey:
            let other = makeKey(wavBytes(seed: 200))
            bytes = try ConditioningFileFormat.encode(try fakeConditioning(from: wavBytes(seed: 200)), for: other)
        }
        try bytes.write(to: url)
    }
}

@Suite("ConditioningCache")
struct ConditioningCacheTests {
    @Test func aChangedReferenceWithTheSameNameSizeAndDateIsRecomputed() async throws {
        try await withTemporaryDirectory { dir in
            let cache = ConditioningCache(configuration: .init(directory: dir.appendingPathComponent("cache")))
            let counter = ComputeCounter()
            let file = dir.appendingPathComponent("alice.wav")

            try wavBytes(seed: 1).write(to: file)
            let date = try #require(try FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date)
            func request() async throws -> (Conditioning, ConditioningCacheOutcome) {
                let data = try Data(contentsOf: file)
                return try await cache.conditioning(for: makeKey(data)) {
                    await counter.increment()
                    return try fakeConditioning(from: data)
                }
            }
            let (first, firstOutcome) = try await request()
            #expect(firstOutcome == .miss)
            #expect(try await request().1 == .memoryHit)

            let changed = wavBytes(seed: 2)
            #expect(changed.count == wavBytes(seed: 1).count)
            try changed.write(to: file)
            try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: file.path)

            let (second, secondOutcome) = try await request()
            #expect(secondOutcome == .miss)
            #expect(second == (try fakeConditioning(from: changed)))
            #expect(second != first)
            #expect(await counter.count == 2)
        }
    }

    @Test func theSameContentUnderAnotherNameIsAHit() async throws {
        try await withTemporaryDirectory { dir in
            let cache = ConditioningCache(configuration: .init(directory: dir.appendingPathComponent("cache")))
            let counter = ComputeCounter()
            let alice = dir.appendingPathComponent("alice.wav")
            let bob = dir.appendingPathComponent("voices/bob.flac")
            try FileManager.default.createDirectory(at: bob.deletingLastPathComponent(), withIntermediateDirectories: true)
            try wavBytes(seed: 7).write(to: alice)
            try FileManager.default.copyItem(at: alice, to: bob)

            for (file, expected) in [(alice, ConditioningCacheOutcome.miss), (bob, .memoryHit)] {
                let reference = try VoiceReference(contentsOf: file)
                let (_, outcome) = try await cache.conditioning(
                    for: ConditioningKey(reference: reference, engine: "test-engine", modelFingerprint: "model-1")
                ) {
                    await counter.increment()
                    return try fakeConditioning(from: reference.data)
                }
                #expect(outcome == expected, "\(file.lastPathComponent)")
            }
            #expect(await counter.count == 1)
        }
    }

    @Test func twoFilesWithTheSameBasenameInDifferentFoldersNeverCollide() async throws {
        try await withTemporaryDirectory { dir in
            let cacheDir = dir.appendingPathComponent("cache")
            let cache = ConditioningCache(configuration: .init(directory: cacheDir))
            var files: [URL] = []
            for (i, folder) in ["one", "two"].enumerated() {
                let url = dir.appendingPathComponent(folder).appendingPathComponent("reference.wav")
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try wavBytes(seed: UInt8(10 + i)).write(to: url)
                files.append(url)
            }
            for round in 0..<2 {
                for file in files {
                    let data = try Data(contentsOf: file)
                    let (value, outcome) = try await cache.conditioning(for: makeKey(data)) { try fakeConditioning(from: data) }
                    #expect(outcome == (round == 0 ? .miss : .memoryHit))
                    #expect(value == (try fakeConditioning(from: data)), "\(file.path) got another file's conditioning")
                }
            }
            let fresh = ConditioningCache(configuration: .init(directory: cacheDir))
            for file in files {
                let data = try Data(contentsOf: file)
                let (value, outcome) = try await fresh.conditioning(for: makeKey(data)) { Issue.record("recomputed"); return [:] }
                #expect(outcome == .diskHit)
                #expect(value == (try fakeConditioning(from: data)))
            }
            #expect(await cache.stats().diskEntries == 2)
        }
    }

    /// Stands in for a process restart: a second cache instance on the same folder starts with an
    /// empty memory tier, exactly as a new process would. (Spawning a real process from a Swift
    /// Testing binary is not done here.)
    @Test func aNewCacheInstanceWithEmptyMemoryGetsADiskHitThenAMemoryHit() async throws {
        try await withTemporaryDirectory { dir in
            let reference = wavBytes(seed: 4)
            let expected = try fakeConditioning(from: reference)
            let configuration = ConditioningCacheConfiguration(directory: dir)

            let counter = ComputeCounter()
            let compute: @Sendable () async throws -> Conditioning = {
                await counter.increment()
                return expected
            }
            let before = ConditioningCache(configuration: configuration)
            #expect(try await before.conditioning(for: makeKey(reference), compute: compute).1 == .miss)
            #expect(await counter.count == 1)

            let after = ConditioningCache(configuration: configuration)
            #expect(await after.stats().memoryEntries == 0)
            let (value, outcome) = try await after.conditioning(for: makeKey(reference), compute: compute)
            #expect(outcome == .diskHit)
            #expect(value == expected)
            #expect(try await after.conditioning(for: makeKey(reference), compute: compute).1 == .memoryHit)
            #expect(await counter.count == 1, "neither the disk hit nor the memory hit computed")
            let stats = await after.stats()
            #expect(stats.diskHits == 1 && stats.memoryHits == 1 && stats.misses == 0)
        }
    }

    @Test(arguments: EntryDamage.allCases)
    func aDamagedEntryIsDeletedAndRecomputedWithoutAnError(_ damage: EntryDamage) async throws {
        try await withTemporaryDirectory { dir in
            let reference = wavBytes(seed: 5)
            let key = makeKey(reference)
            let expected = try fakeConditioning(from: reference)
            let store = DiskConditioningStore(directory: dir)
            let first = ConditioningCache(store: store)
            _ = try await first.conditioning(for: key) { expected }
            let entry = store.entryURL(for: key)
            let original = try Data(contentsOf: entry)
            try damage.apply(to: entry, key: key, value: expected)
            #expect(try Data(contentsOf: entry) != original)

            let counter = ComputeCounter()
            let second = ConditioningCache(store: store)
            let (value, outcome) = try await second.conditioning(for: key) {
                await counter.increment()
                return expected
            }
            #expect(outcome == .miss)
            #expect(value == expected)
            #expect(await counter.count == 1)
            let stats = await second.stats()
            #expect(stats.discardedDiskEntries == 1)
            #expect(stats.diskEntries == 1)

            #expect(try Data(contentsOf: entry) == original, "the bad file is replaced by a good entry")
            let third = ConditioningCache(store: store)
            #expect(try await third.conditioning(for: key) { expected }.1 == .diskHit)
        }
    }

    @Test func sixteenConcurrentRequestsForANewKeyComputeItOnce() async throws {
        try await withTemporaryDirectory { dir in
            let cache = ConditioningCache(configuration: .init(directory: dir))
            let counter = ComputeCounter()
            let gate = Gate()
            let reference = wavBytes(seed: 6)
            let expected = try fakeConditioning(from: reference)

            let results = try await withThrowingTaskGroup(of: (Conditioning, ConditioningCacheOutcome).self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        try await cache.conditioning(for: makeKey(reference)) {
                            await counter.increment()
                            await gate.wait()
                            return expected
                        }
                    }
                }
                // Hold the computation until all 15 other requests have joined it.
                let deadline = ContinuousClock.now + .seconds(20)
                while await cache.stats().coalescedRequests < 15, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                await gate.open()
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 16)
            #expect(results.allSatisfy { $0.0 == expected && $0.1 == .miss })
            #expect(await counter.count == 1)
            let stats = await cache.stats()
            #expect(stats.misses == 1)
            #expect(stats.coalescedRequests == 15)
            #expect(stats.diskEntries == 1)
        }
    }

    @Test func aFailingComputeReachesEveryWaiterIsNotCachedAndIsRetried() async throws {
        try await withTemporaryDirectory { dir in
            let cache = ConditioningCache(configuration: .init(directory: dir))
            let counter = ComputeCounter()
            let gate = Gate()
            let reference = wavBytes(seed: 8)

            let errors = await withTaskGroup(of: (any Error)?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do {
                            _ = try await cache.conditioning(for: makeKey(reference)) {
                                await counter.increment()
                                await gate.wait()
                                throw TestComputeError(attempt: await counter.count)
                            }
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
                let deadline = ContinuousClock.now + .seconds(20)
                while await cache.stats().coalescedRequests < 7, ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .milliseconds(5))
                }
                await gate.open()
                return await group.reduce(into: [(any Error)?]()) { $0.append($1) }
            }
            #expect(errors.count == 8)
            #expect(errors.allSatisfy { ($0 as? TestComputeError) == TestComputeError(attempt: 1) })
            var stats = await cache.stats()
            #expect(stats.computeFailures == 1)
            #expect(stats.memoryEntries == 0 && stats.diskEntries == 0)

            let expected = try fakeConditioning(from: reference)
            let (value, outcome) = try await cache.conditioning(for: makeKey(reference)) {
                await counter.increment()
                return expected
            }
            #expect(outcome == .miss)
            #expect(value == expected)
            #expect(await counter.count == 2)
            stats = await cache.stats()
            #expect(stats.computeFailures == 1 && stats.misses == 2 && stats.diskEntries == 1)
        }
    }

    @Test func leastRecentlyUsedEntriesAreEvictedUnderTheByteBudget() async throws {
        let cache = ConditioningCache(memoryBudgetBytes: 3000, store: nil)
        let refs = (0..<4).map { wavBytes(seed: UInt8(20 + $0)) }
        let counter = ComputeCounter()
        func request(_ i: Int) async throws -> ConditioningCacheOutcome {
            try await cache.conditioning(for: makeKey(refs[i])) {
                await counter.increment()
                return try sizedConditioning(bytes: 1000, tag: Float(i))
            }.1
        }
        #expect(try await request(0) == .miss)
        #expect(try await request(1) == .miss)
        #expect(try await request(2) == .miss)
        #expect(try await request(0) == .memoryHit)  // 1 is now the least recently used
        #expect(try await request(3) == .miss)  // evicts 1

        var stats = await cache.stats()
        #expect(stats.evictions == 1)
        #expect(stats.memoryEntries == 3)
        #expect(stats.memoryBytes == 3000)

        #expect(try await request(0) == .memoryHit)
        #expect(try await request(2) == .memoryHit)
        #expect(try await request(3) == .memoryHit)
        #expect(try await request(1) == .miss)  // was evicted; evicts 0, the least recent now
        #expect(try await request(0) == .miss)
        stats = await cache.stats()
        #expect(stats.evictions == 3)
        #expect(stats.memoryBytes <= stats.memoryBudgetBytes)
        #expect(await counter.count == 6)
    }

    @Test func anEntryLargerThanTheMemoryBudgetIsServedFromDisk() async throws {
        try await withTemporaryDirectory { dir in
            let cache = ConditioningCache(configuration: .init(directory: dir, memoryBudgetBytes: 1000))
            let reference = wavBytes(seed: 30)
            let big = try sizedConditioning(bytes: 4000, tag: 1)
            #expect(try await cache.conditioning(for: makeKey(reference)) { big }.1 == .miss)
            let (value, outcome) = try await cache.conditioning(for: makeKey(reference)) { big }
            #expect(outcome == .diskHit)
            #expect(value == big)
            let stats = await cache.stats()
            #expect(stats.memoryEntries == 0 && stats.memoryBytes == 0 && stats.evictions == 0)
        }
    }

    @Test func diskUsageCountsEntryFilesAndTheirBytesOnly() async throws {
        try await withTemporaryDirectory { dir in
            let store = DiskConditioningStore(directory: dir)
            let cache = ConditioningCache(store: store)
            let key = makeKey(wavBytes(seed: 31))
            _ = try await cache.conditioning(for: key) { try fakeConditioning(from: wavBytes(seed: 31)) }
            try Data("not an entry".utf8).write(to: dir.appendingPathComponent("README.txt"))
            try Data("partial".utf8).write(to: dir.appendingPathComponent(".\(key.digest).conditioning.ABC.tmp"))

            let size = try #require(try FileManager.default.attributesOfItem(atPath: store.entryURL(for: key).path)[.size] as? NSNumber)
            let stats = await cache.stats()
            #expect(stats.diskEntries == 1)
            #expect(stats.diskBytes == size.intValue)
            #expect(store.entryURL(for: key).lastPathComponent == "\(key.digest).conditioning")
        }
    }

    @Test func aCacheThatCannotWriteToDiskStillAnswers() async throws {
        try await withTemporaryDirectory { dir in
            let notAFolder = dir.appendingPathComponent("file")
            try Data("x".utf8).write(to: notAFolder)
            let cache = ConditioningCache(configuration: .init(directory: notAFolder))
            let reference = wavBytes(seed: 32)
            let expected = try fakeConditioning(from: reference)
            let (value, outcome) = try await cache.conditioning(for: makeKey(reference)) { expected }
            #expect(outcome == .miss && value == expected)
            #expect(try await cache.conditioning(for: makeKey(reference)) { expected }.1 == .memoryHit)
            #expect(await cache.stats().diskWriteFailures == 1)
        }
    }

    @Test func memoryTierOrdersKeysByRecencyAndTracksBytes() throws {
        var tier = ConditioningMemoryTier(budgetBytes: 100)
        let value = try sizedConditioning(bytes: 40, tag: 0)
        #expect(tier.insert(value, for: "a") == 0)
        #expect(tier.insert(value, for: "b") == 0)
        #expect(tier.keysByRecency == ["b", "a"])
        #expect(tier.value(for: "a") != nil)
        #expect(tier.keysByRecency == ["a", "b"])
        #expect(tier.insert(value, for: "c") == 1)
        #expect(tier.keysByRecency == ["c", "a"])
        #expect(tier.totalBytes == 80)
        #expect(tier.insert(try sizedConditioning(bytes: 120, tag: 1), for: "huge") == 0)
        #expect(tier.value(for: "huge") == nil)
        tier.removeValue(for: "c")
        #expect(tier.keysByRecency == ["a"])
        #expect(tier.totalBytes == 40)
    }
}

@Suite("ConditioningCacheBenchmark")
struct ConditioningCacheBenchmarkTests {
    @Test func benchmarkMeasuresAMissThenMemoryHitsThenDiskHits() async throws {
        try await withTemporaryDirectory { dir in
            let reference = wavBytes(seed: 40, frames: 4000)
            let counter = ComputeCounter()
            let result = try await ConditioningCacheBenchmark.run(
                reference: reference, engine: "test-engine", modelFingerprint: "model-1", scratchDirectory: dir, iterations: 3
            ) {
                await counter.increment()
                return try fakeConditioning(from: reference)
            }
            #expect(result.missOutcome == .miss)
            #expect(result.memoryHitOutcomes == [.memoryHit, .memoryHit, .memoryHit])
            #expect(result.diskHitOutcomes == [.diskHit, .diskHit, .diskHit])
            #expect(result.outcomesAsExpected)
            #expect(result.memoryHitSeconds.samples.count == 3 && result.diskHitSeconds.samples.count == 3)
            #expect(result.referenceBytes == reference.count)
            #expect(result.conditioningBytes == (try fakeConditioning(from: reference)).byteCount)
            #expect(result.diskEntryBytes > result.conditioningBytes)
            #expect(await counter.count == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "scratch folder removed")
            _ = try JSONEncoder().encode(result)
        }
    }
}
