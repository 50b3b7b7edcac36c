import Testing
import VoxCore
import VoxONNX
@testable import VoxOptimizer

/// One fake machine and the plan defended for it.
struct PlanCase: Sendable, CustomTestStringConvertible {
    var name: String
    var hardware: HardwareReport
    var build: ONNXRuntimeGPUBuild = .cuda13
    /// Entry labels for Chatterbox Turbo (fp32, fp16, q4, q4f16, int8 shipped), best first.
    var chatterbox: [String]
    /// Entry labels for a Piper voice (fp32 only).
    var piper: [String]
    var cpuThreads: Int
    /// A fragment the plan's reasons must contain.
    var reason: String

    var testDescription: String { name }

    static let all: [PlanCase] = [
        PlanCase(
            name: "RTX 5070 Ti (12.0, 16 GB) + Core i7-12700K",
            hardware: Fixtures.machine(cpu: Fixtures.i7_12700K, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 5070 Ti", 12, 0, gib: 16)]),
            chatterbox: ["cuda:0 fp16", "cuda:0 fp32", "cpu int8", "cpu q4", "cpu fp32"], piper: ["cuda:0 fp32", "cpu fp32"],
            cpuThreads: 11, reason: "CUDA on NVIDIA GeForce RTX 5070 Ti"
        ),
        PlanCase(
            name: "RTX 4090 (8.9, 24 GB) + Ryzen 9 7950X",
            hardware: Fixtures.machine(cpu: Fixtures.ryzen7950X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24)]),
            chatterbox: ["cuda:0 fp16", "cuda:0 fp32", "cpu int8", "cpu q4", "cpu fp32"], piper: ["cuda:0 fp32", "cpu fp32"],
            cpuThreads: 14, reason: "fp16 and bf16 tensor cores"
        ),
        PlanCase(
            name: "RTX 3060 (8.6, 12 GB) + Ryzen 5 5600X",
            hardware: Fixtures.machine(cpu: Fixtures.ryzen5600X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 3060", 8, 6, gib: 12)]),
            chatterbox: ["cuda:0 fp16", "cuda:0 fp32", "cpu q4", "cpu int8", "cpu fp32"], piper: ["cuda:0 fp32", "cpu fp32"],
            cpuThreads: 6, reason: "AVX2 without VNNI"
        ),
        PlanCase(
            name: "Tesla T4 (7.5, 16 GB) + 4-vCPU Cascade Lake VM",
            hardware: Fixtures.machine(cpu: Fixtures.cascadeLakeVM, gpus: [Fixtures.gpu("Tesla T4", 7, 5, gib: 16)]),
            chatterbox: ["cuda:0 fp16", "cuda:0 fp32", "cpu int8", "cpu q4", "cpu fp32"], piper: ["cuda:0 fp32", "cpu fp32"],
            cpuThreads: 2, reason: "fp16 tensor cores but no bf16"
        ),
        PlanCase(
            name: "GTX 1080 (6.1, 8 GB) + Core i7-6700K, CUDA 13 build",
            hardware: Fixtures.machine(cpu: Fixtures.i7_6700K, gpus: [Fixtures.gpu("NVIDIA GeForce GTX 1080", 6, 1, gib: 8)]),
            chatterbox: ["cpu q4", "cpu int8", "cpu fp32"], piper: ["cpu fp32"],
            cpuThreads: 4, reason: "kernels start at compute capability 7.5"
        ),
        PlanCase(
            name: "GTX 1080 (6.1, 8 GB) + Core i7-6700K, CUDA 12 build",
            hardware: Fixtures.machine(cpu: Fixtures.i7_6700K, gpus: [Fixtures.gpu("NVIDIA GeForce GTX 1080", 6, 1, gib: 8)], cudaDriverVersion: 12080),
            build: ONNXRuntimeGPUBuild(cudaMajorVersion: 12, minimumComputeCapability: ComputeCapability(6, 0)),
            chatterbox: ["cuda:0 fp32", "cpu q4", "cpu int8", "cpu fp32"], piper: ["cuda:0 fp32", "cpu fp32"],
            cpuThreads: 4, reason: "runs fp16 far slower than fp32"
        ),
        PlanCase(
            name: "H100 (9.0, 80 GB) + 2 × Xeon Platinum 8480+",
            hardware: Fixtures.machine(cpu: Fixtures.xeon8480, gpus: [Fixtures.gpu("NVIDIA H100 80GB HBM3", 9, 0, gib: 80)], ram: 1024),
            chatterbox: ["cuda:0 fp16", "cuda:0 fp32", "cpu int8", "cpu q4", "cpu fp32"], piper: ["cuda:0 fp32", "cpu fp32"],
            cpuThreads: 16, reason: "AVX-512 VNNI, AMX"
        ),
        PlanCase(
            name: "CPU only: Xeon Gold 6248 (AVX-512 + VNNI, 20 cores)",
            hardware: Fixtures.machine(cpu: Fixtures.xeon6248),
            chatterbox: ["cpu int8", "cpu q4", "cpu fp32"], piper: ["cpu fp32"],
            cpuThreads: 16, reason: "no usable NVIDIA GPU (libnvidia-ml.so.1 not found"
        ),
        PlanCase(
            name: "CPU only: EPYC 7742 VM (AVX2, no AVX-512, 4 cores)",
            hardware: Fixtures.machine(cpu: Fixtures.epyc7742VM),
            chatterbox: ["cpu q4", "cpu int8", "cpu fp32"], piper: ["cpu fp32"],
            cpuThreads: 4, reason: "int8 kernels there can saturate"
        ),
        PlanCase(
            name: "CPU only: Core i5-2500 (no AVX2)",
            hardware: Fixtures.machine(cpu: Fixtures.oldCPU),
            chatterbox: ["cpu fp32"], piper: ["cpu fp32"],
            cpuThreads: 4, reason: "no AVX2"
        ),
    ]
}

@Suite struct ExecutionPlannerTests {
    @Test("plans Chatterbox as defended for each machine", arguments: PlanCase.all)
    func chatterboxPlan(_ c: PlanCase) throws {
        let plan = try ExecutionPlanner(gpuBuild: c.build).plan(hardware: c.hardware, inventory: Fixtures.chatterbox)
        #expect(plan.entries.map(\.label) == c.chatterbox)
        #expect(plan.reasons.contains { $0.contains(c.reason) }, "\(plan.reasons)")
        try expectCommonRules(plan, c, kind: .tokens)
        // Chatterbox's graphs all have dynamic shapes: no CUDA graph anywhere.
        #expect(plan.entries.allSatisfy { $0.components.allSatisfy { !$0.cudaGraph } })
        // Every component of an entry is listed, in the inventory's order.
        #expect(plan.entries.allSatisfy { $0.components.map(\.name) == Fixtures.chatterbox.components.map(\.name) })
    }

    @Test("plans Piper (fp32 only, dynamic shapes) for each machine", arguments: PlanCase.all)
    func piperPlan(_ c: PlanCase) throws {
        let plan = try ExecutionPlanner(gpuBuild: c.build).plan(hardware: c.hardware, inventory: Fixtures.piper)
        #expect(plan.entries.map(\.label) == c.piper)
        try expectCommonRules(plan, c)
        #expect(plan.entries.allSatisfy { !$0.usesCUDAGraph(for: "vits") })
        if plan.entries.first?.provider == .cuda {
            #expect(plan.entries[0].reasons.contains("vits: no CUDA graph (dynamic shapes cannot be captured)."))
        }
    }

    private func expectCommonRules(_ plan: ExecutionPlan, _ c: PlanCase, kind: ModelInventory.Kind = .sentences) throws {
        let last = try #require(plan.entries.last)
        #expect(last.provider == .cpu && last.isFullPrecision)
        for entry in plan.entries {
            #expect(!entry.reasons.isEmpty)
            #expect(entry.interOpThreads == 1)
            #expect(entry.graphOptimization == .all)
            switch entry.provider {
            case .cuda:
                #expect(entry.deviceIndex == 0)
                #expect(entry.intraOpThreads == 2)
                #expect(entry.cudnnConvAlgoSearch == .heuristic)
                #expect(entry.ioBinding == (kind == .tokens))
                #expect(entry.optimizedModelCacheKey == nil)
                #expect(entry.chunking.chunkTokens == (kind == .tokens ? 50 : nil))
                #expect(entry.chunking.parallelSentences == 1)
                #expect(entry.chunking.decoderConcurrency == nil)
            case .cpu:
                #expect(entry.deviceIndex == nil)
                #expect(entry.intraOpThreads == c.cpuThreads)
                #expect(entry.cudnnConvAlgoSearch == nil)
                #expect(!entry.ioBinding)
                #expect(entry.optimizedModelCacheKey?.count == (kind == .sentences ? 64 : nil))
                #expect(entry.chunking.chunkTokens == (kind == .tokens ? 100 : nil))
                #expect(entry.chunking.decoderConcurrency == (kind == .tokens ? 1 : nil))
                #expect(entry.chunking.parallelSentences == (kind == .tokens ? 1 : ExecutionPlanner.parallelSentences(intraOpThreads: c.cpuThreads).count))
            }
            // Only what the engine kind runs is stated: token chunks and sentence length for token engines.
            #expect(entry.chunking.firstChunkTokens == (kind == .tokens ? 25 : nil))
            #expect(entry.chunking.maxSentenceCharacters == (kind == .tokens ? 300 : nil))
        }
    }

    @Test("on Ampere and newer, bf16 follows fp16 and components without it fall to fp32")
    func bf16AfterFP16() throws {
        let hardware = Fixtures.machine(cpu: Fixtures.ryzen7950X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24)])
        let plan = try ExecutionPlanner().plan(hardware: hardware, inventory: Fixtures.mixed)
        #expect(plan.entries.map(\.label) == [
            "cuda:0 language_model=fp16 decoder=fp16 speaker_encoder=fp32",
            "cuda:0 language_model=bf16 decoder=fp32 speaker_encoder=fp32",
            "cuda:0 fp32",
            "cpu language_model=int8 decoder=fp32 speaker_encoder=fp32",
            "cpu language_model=q4 decoder=fp32 speaker_encoder=fp32",
            "cpu fp32",
        ])
        #expect(plan.entries[1].reasons.contains("decoder ships no bf16 variant: fp32 instead."))
    }

    @Test("Turing has no bf16: a bf16 variant on disk is never planned")
    func noBF16OnTuring() throws {
        let hardware = Fixtures.machine(cpu: Fixtures.cascadeLakeVM, gpus: [Fixtures.gpu("Tesla T4", 7, 5, gib: 16)])
        let plan = try ExecutionPlanner().plan(hardware: hardware, inventory: Fixtures.mixed)
        #expect(!plan.entries.contains { $0.components.contains { $0.precision == .bf16 } })
        #expect(plan.entries.first?.precision(for: "language_model") == .fp16)
    }

    @Test("CUDA graphs only for static-shape components, only on CUDA")
    func cudaGraphsOnlyForStaticShapes() throws {
        let hardware = Fixtures.machine(cpu: Fixtures.ryzen7950X, gpus: [Fixtures.gpu("NVIDIA H100 80GB HBM3", 9, 0, gib: 80)])
        let plan = try ExecutionPlanner().plan(hardware: hardware, inventory: Fixtures.mixed)
        for entry in plan.entries {
            #expect(entry.usesCUDAGraph(for: "speaker_encoder") == (entry.provider == .cuda))
            #expect(!entry.usesCUDAGraph(for: "language_model"))
            #expect(!entry.usesCUDAGraph(for: "decoder"))
        }
    }

    @Test("a GPU without the CUDA provider in ONNX Runtime gives a CPU plan that says why")
    func gpuWithoutCUDAProvider() throws {
        let hardware = Fixtures.machine(
            cpu: Fixtures.ryzen7950X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24)], providers: ["CPUExecutionProvider"]
        )
        let plan = try ExecutionPlanner().plan(hardware: hardware, inventory: Fixtures.chatterbox)
        #expect(plan.entries.allSatisfy { $0.provider == .cpu })
        #expect(plan.entries.map(\.label) == ["cpu int8", "cpu q4", "cpu fp32"])
        let reason = try #require(plan.reasons.first)
        #expect(reason.contains("NVIDIA GeForce RTX 4090"))
        #expect(reason.contains("ONNX Runtime offers only CPUExecutionProvider"))
        #expect(reason.contains("make setup GPU=1"))
    }

    @Test("a driver older than the ONNX Runtime build's CUDA gives a CPU plan that says to update it")
    func driverTooOld() throws {
        let hardware = Fixtures.machine(cpu: Fixtures.ryzen5600X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 3060", 8, 6, gib: 12)], cudaDriverVersion: 12080)
        let plan = try ExecutionPlanner().plan(hardware: hardware, inventory: Fixtures.chatterbox)
        #expect(plan.entries.allSatisfy { $0.provider == .cpu })
        #expect(plan.reasons[0].contains("supports CUDA 12.8") && plan.reasons[0].contains("update the driver"))
    }

    @Test("of several GPUs, the best one this build supports is chosen")
    func choosesSupportedGPU() throws {
        let hardware = Fixtures.machine(cpu: Fixtures.i7_6700K, gpus: [
            Fixtures.gpu("Tesla P40", 6, 1, gib: 24, index: 0),
            Fixtures.gpu("NVIDIA GeForce RTX 3060", 8, 6, gib: 12, index: 1),
            Fixtures.gpu("NVIDIA GeForce RTX 3090", 8, 6, gib: 24, index: 2),
        ])
        let plan = try ExecutionPlanner().plan(hardware: hardware, inventory: Fixtures.chatterbox)
        #expect(plan.entries.first?.deviceIndex == 2)
        #expect(plan.reasons[0].contains("RTX 3090"))
    }

    @Test("when fp16 does not fit in GPU memory, 4-bit weights keep the model on the GPU")
    func memorySavingVariant() throws {
        let sizes: [ModelPrecision: UInt64] = [.fp32: 6, .fp16: 3, .q4f16: 1, .q4: 1, .int8: 2]
        let inventory = ModelInventory(model: "big", components: [
            ModelComponent(name: "language_model", variants: sizes.map { ModelVariant($0.key, bytes: $0.value * Fixtures.gib) }),
        ])
        // With 1.5× overhead: fp32 9 GiB, fp16 4.5 GiB, q4f16 1.5 GiB; the GPU has 3.5 GiB free.
        let hardware = Fixtures.machine(cpu: Fixtures.ryzen5600X, gpus: [Fixtures.gpu("NVIDIA GeForce GTX 1650", 7, 5, gib: 4)])
        let plan = try ExecutionPlanner().plan(hardware: hardware, inventory: inventory)
        #expect(plan.entries.map(\.label) == ["cuda:0 q4f16", "cpu q4", "cpu int8", "cpu fp32"])
        #expect(plan.reasons.contains { $0.hasPrefix("CUDA fp16 skipped") })
    }

    @Test("threads respect a cgroup quota and affinity")
    func threadsFollowQuota() throws {
        var cpu = Fixtures.cpu("AMD EPYC 9654", cores: 96, flags: "avx2 avx512f avx512_vnni", quota: 2.5)
        var plan = try ExecutionPlanner().plan(hardware: Fixtures.machine(cpu: cpu), inventory: Fixtures.piper)
        #expect(plan.entries.map(\.intraOpThreads) == [2])
        #expect(plan.entries[0].reasons.contains { $0.hasPrefix("2 intra-op threads: 2 usable physical cores (of 96") })

        cpu = Fixtures.cpu("AMD EPYC 9654", cores: 96, flags: "avx2")
        cpu.allowedPhysicalCores = 1
        plan = try ExecutionPlanner().plan(hardware: Fixtures.machine(cpu: cpu), inventory: Fixtures.piper)
        #expect(plan.entries.map(\.intraOpThreads) == [1])
    }

    @Test("CPU thread count: all cores when few, headroom when many, capped at 16")
    func cpuThreadRule() {
        let counts = [1, 2, 4, 6, 8, 12, 16, 24, 64].map { ExecutionPlanner.cpuIntraOpThreads(Fixtures.cpu("x", cores: $0, flags: "")).count }
        #expect(counts == [1, 2, 4, 6, 7, 11, 14, 16, 16])
    }

    @Test("a token engine's plan claims no optimized-model file, since its engine saves none")
    func tokenEnginesHaveNoOptimizedModelKey() throws {
        let plan = try ExecutionPlanner().plan(hardware: Fixtures.machine(cpu: Fixtures.xeon6248), inventory: Fixtures.chatterbox)
        #expect(plan.entries.allSatisfy { $0.optimizedModelCacheKey == nil })
        #expect(!plan.entries.flatMap(\.reasons).contains { $0.contains("Optimized graphs saved") })
    }

    @Test("optimized-model cache keys differ by precision and by CPU")
    func cacheKeys() throws {
        // Several precisions of a sentence engine (the kind whose engine saves optimized graphs).
        var inventory = Fixtures.chatterbox
        inventory.kind = .sentences
        let a = try ExecutionPlanner().plan(hardware: Fixtures.machine(cpu: Fixtures.xeon6248), inventory: inventory)
        let b = try ExecutionPlanner().plan(hardware: Fixtures.machine(cpu: Fixtures.epyc7742VM), inventory: inventory)
        let keysA = a.entries.compactMap(\.optimizedModelCacheKey)
        #expect(Set(keysA).count == a.entries.count)
        #expect(Set(keysA).isDisjoint(with: b.entries.compactMap(\.optimizedModelCacheKey)))
        #expect(keysA.allSatisfy { $0.allSatisfy(\.isHexDigit) })
    }

    @Test("a model without files, or a graph without variants, is refused")
    func invalidInventory() {
        let hardware = Fixtures.machine(cpu: Fixtures.xeon6248)
        #expect(throws: VoxError.self) { try ExecutionPlanner().plan(hardware: hardware, inventory: ModelInventory(model: "empty", components: [])) }
        let broken = ModelInventory(model: "broken", components: [ModelComponent(name: "vits", variants: [])])
        #expect { try ExecutionPlanner().plan(hardware: hardware, inventory: broken) } throws: { error in
            (error as? VoxError)?.kind == .invalidModel && (error as? VoxError)?.message.contains("vits") == true
        }
    }

    @Test("a component without fp32 ends on its most precise variant")
    func noFP32Shipped() throws {
        let inventory = ModelInventory(model: "quantized-only", components: [ModelComponent(name: "lm", precisions: [.q4, .int8])])
        let plan = try ExecutionPlanner().plan(hardware: Fixtures.machine(cpu: Fixtures.oldCPU), inventory: inventory)
        #expect(plan.entries.map(\.label) == ["cpu int8"])
        #expect(plan.entries[0].reasons.contains("lm ships no fp32 variant: int8 instead."))
    }
}

@Suite struct ParallelSentencesTests {
    @Test("sentence workers: none on one thread, every thread below four, half of them (at most 4) above")
    func workersPerThreadCount() {
        let table: [(threads: Int, workers: Int)] = [(1, 1), (2, 2), (3, 3), (4, 2), (6, 3), (8, 4), (16, 4)]
        for row in table {
            let got = ExecutionPlanner.parallelSentences(intraOpThreads: row.threads)
            #expect(got.count == row.workers, "\(row.threads) threads")
            #expect(row.threads / got.count >= 1)
            #expect(!got.reason.isEmpty)
        }
    }

    @Test("a two-core CPU plan runs two sentences with one thread each")
    func twoCoreCPU() throws {
        let plan = try ExecutionPlanner().plan(hardware: Fixtures.machine(cpu: Fixtures.cascadeLakeVM, gpus: []), inventory: Fixtures.piper)
        let entry = try #require(plan.primary)
        #expect(entry.provider == .cpu && entry.intraOpThreads == 2)
        #expect(entry.chunking.parallelSentences == 2)
        #expect(entry.reasons.contains { $0.contains("2 sentences at once with 1 thread each") })
    }
}
