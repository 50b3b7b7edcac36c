import Testing
import VoxCore
import VoxONNX
@testable import VoxOptimizer

/// How the plan sizes Chatterbox's continuous batch: KV-cache memory at the longest sequence,
/// cores and precision on a CPU, and the user's `--max-batch`.
@Suite struct BatchPlanningTests {
    static let twoCoreVM = Fixtures.machine(cpu: Fixtures.cascadeLakeVM, ram: 8)

    @Test func kvCacheArithmeticIsTurbosGeometry() {
        let kv = ExecutionPlanner.chatterboxTurboKVCache
        // 24 layers × 2 (key, value) × 16 heads × 64 × 4 bytes = 196,608 bytes per position per row.
        #expect(kv.bytesPerPosition(elementSize: 4) == 196_608)
        #expect(kv.bytesPerPosition(elementSize: 2) == 98_304)
        // 1,526 positions (376 conditioning + 150 prompt + 1,000 new): 300,023,808 bytes (286 MiB).
        #expect(kv.bytesPerSentence(elementSize: 4) == 300_023_808)
    }

    /// On 2 cores batching measured a small gain and a later first audio: the plan keeps each
    /// sentence alone there, and says what would fit.
    @Test func aTwoCoreCPUDecodesAloneAndSaysWhatWouldFit() throws {
        let plan = try ExecutionPlanner().plan(hardware: Self.twoCoreVM, inventory: Fixtures.chatterbox, overrides: PlanOverrides(precision: .fp32))
        let fp32 = try #require(plan.primary?.batching)
        #expect(fp32.maxBatch == 1)
        #expect(fp32.prefillChunkPositions == 128)
        #expect(plan.primary!.reasons.contains { $0.contains("4 sentences per core × 2 cores") })
        #expect(plan.primary!.reasons.contains { $0.contains("Batching off on this CPU") && $0.contains("8 sentences would fit") })
        // Every entry of a token engine's plan says how it batches.
        #expect(plan.entries.allSatisfy { $0.batching != nil })
    }

    @Test func aCPUWithFourOrMoreCoresBatchesFourFP32SentencesPerCoreAndTwoQuantized() throws {
        let machine = Fixtures.machine(cpu: Fixtures.i7_12700K, ram: 32)
        let cores = machine.cpu.usableCores
        #expect(cores >= ExecutionPlanner.minCoresToBatchOnCPU)
        let fp32 = try ExecutionPlanner().plan(hardware: machine, inventory: Fixtures.chatterbox, overrides: PlanOverrides(precision: .fp32))
        #expect(fp32.primary?.batching?.maxBatch == min(ExecutionPlanner.maxCPUBatch, 4 * cores))
        let q4 = try ExecutionPlanner().plan(hardware: machine, inventory: Fixtures.chatterbox, overrides: PlanOverrides(precision: .q4))
        #expect(q4.primary?.batching?.maxBatch == min(ExecutionPlanner.maxCPUBatch, 2 * cores))
    }

    @Test func theKVCacheMemoryBoundsTheBatch() throws {
        // 4 GiB of RAM, 3 GiB available: after weights (unknown here: 0) 3 GiB / (2 × 286 MiB) = 5:
        // a step holds the cache it reads and the one it writes.
        let small = Fixtures.machine(cpu: Fixtures.ryzen7950X, ram: 4)  // 16 cores: memory binds first
        let plan = try ExecutionPlanner().plan(hardware: small, inventory: Fixtures.chatterbox, overrides: PlanOverrides(precision: .fp32))
        let batching = try #require(plan.primary?.batching)
        #expect(batching.maxBatch == 5)
        #expect(batching.kvBytesPerSentence == 300_023_808)
        #expect(plan.primary!.reasons.contains { $0.contains("= 192 KiB per position per row") && $0.contains("allows 5") })
    }

    @Test func maxBatchOverridesThePlanAndOneTurnsBatchingOff() throws {
        let forced = try ExecutionPlanner().plan(hardware: Self.twoCoreVM, inventory: Fixtures.chatterbox, overrides: PlanOverrides(maxBatch: 3))
        #expect(forced.entries.allSatisfy { $0.batching?.maxBatch == 3 })
        let off = try ExecutionPlanner().plan(hardware: Self.twoCoreVM, inventory: Fixtures.chatterbox, overrides: PlanOverrides(maxBatch: 1))
        #expect(off.entries.allSatisfy { $0.batching?.maxBatch == 1 })
        #expect(off.primary!.reasons.contains { $0.contains("batching off") })
        #expect(throws: VoxError.self) {
            try ExecutionPlanner().plan(hardware: Self.twoCoreVM, inventory: Fixtures.chatterbox, overrides: PlanOverrides(maxBatch: 0))
        }
    }

    /// The full-size export's weights (the stand-ins' file sizes), fp32 and fp16.
    static let sizedChatterbox = ModelInventory(
        model: "chatterbox-turbo", kind: .tokens,
        components: [("speech_encoder", 556_000_000), ("embed_tokens", 233_000_000), ("language_model", 1_270_000_000), ("conditional_decoder", 542_000_000)]
            .map { name, bytes in
                ModelComponent(name: ModelComponentID(name), variants: [ModelVariant(.fp32, bytes: UInt64(bytes)), ModelVariant(.fp16, bytes: UInt64(bytes / 2))])
            })

    /// On CUDA the batch keeps its cache on the GPU (IO binding, repacked there). The cache lives in
    /// the language model's arena (its share of the GPU budget by weight, 48.8 % here), and a step
    /// holds two copies: on a 24 GiB card (23.5 GiB free) fp32 fits 17 sentences at the longest,
    /// (11.47 GiB − 1.5 × 1.27 GB) / (2 × 286 MiB); on 80 GiB 66, so the GPU bound of 64 applies.
    @Test func cudaBatchesWithTheCacheInTheLanguageModelsArena() throws {
        let card24 = Fixtures.machine(cpu: Fixtures.i7_12700K, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24)])
        let plan = try ExecutionPlanner().plan(hardware: card24, inventory: Self.sizedChatterbox, overrides: PlanOverrides(precision: .fp32))
        let cuda = try #require(plan.entries.first { $0.provider == .cuda })
        #expect(cuda.ioBinding)
        #expect(cuda.batching?.maxBatch == 17, "\(cuda.reasons)")
        #expect(cuda.batching?.prefillChunkPositions == 256)
        #expect(cuda.reasons.contains { $0.contains("in the language model's arena") && $0.contains("allows 17") })
        #expect(cuda.reasons.contains { $0.contains("stays in GPU memory") && $0.contains("repacks it on the GPU") })
        let fp16 = try ExecutionPlanner().plan(hardware: card24, inventory: Self.sizedChatterbox, overrides: PlanOverrides(precision: .fp16))
        #expect(fp16.entries.first { $0.provider == .cuda }?.batching?.maxBatch == 37)
        let card80 = Fixtures.machine(cpu: Fixtures.i7_12700K, gpus: [Fixtures.gpu("NVIDIA H100 80GB HBM3", 9, 0, gib: 80)])
        let big = try ExecutionPlanner().plan(hardware: card80, inventory: Self.sizedChatterbox, overrides: PlanOverrides(precision: .fp32))
        #expect(big.entries.first { $0.provider == .cuda }?.batching?.maxBatch == ExecutionPlanner.maxGPUBatch)
        let forced = try ExecutionPlanner().plan(hardware: card24, inventory: Self.sizedChatterbox, overrides: PlanOverrides(maxBatch: 40))
        #expect(forced.entries.first { $0.provider == .cuda }?.batching?.maxBatch == 40)
        let off = try ExecutionPlanner().plan(hardware: card24, inventory: Self.sizedChatterbox, overrides: PlanOverrides(maxBatch: 1))
        #expect(off.entries.first { $0.provider == .cuda }?.batching?.maxBatch == 1)
        let box = card24
        // Piper does not batch.
        #expect(try ExecutionPlanner().plan(hardware: box, inventory: Fixtures.piper).entries.allSatisfy { $0.batching == nil })
    }
}
