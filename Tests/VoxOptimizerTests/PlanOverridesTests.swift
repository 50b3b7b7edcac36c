import Testing
import VoxCore
import VoxONNX
@testable import VoxOptimizer

@Suite struct PlanOverridesTests {
    let rtx4090 = Fixtures.machine(cpu: Fixtures.ryzen7950X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24)])

    @Test("forced CPU keeps a GPU machine on the CPU")
    func forcedCPU() throws {
        let plan = try ExecutionPlanner().plan(hardware: rtx4090, inventory: Fixtures.chatterbox, overrides: PlanOverrides(provider: .cpu))
        #expect(plan.entries.map(\.label) == ["cpu int8", "cpu q4", "cpu fp32"])
        #expect(plan.reasons[0] == "CPU forced by the user: CUDA not considered.")
    }

    @Test("forced CUDA lists only CUDA entries before the CPU fp32 safety net")
    func forcedCUDA() throws {
        let plan = try ExecutionPlanner().plan(hardware: rtx4090, inventory: Fixtures.chatterbox, overrides: PlanOverrides(provider: .cuda))
        #expect(plan.entries.map(\.label) == ["cuda:0 fp16", "cuda:0 fp32", "cpu fp32"])
    }

    @Test("forced CUDA where it cannot run is an error that says why")
    func forcedCUDAUnavailable() {
        let cpuOnly = Fixtures.machine(cpu: Fixtures.xeon6248)
        #expect { try ExecutionPlanner().plan(hardware: cpuOnly, inventory: Fixtures.piper, overrides: PlanOverrides(provider: .cuda)) } throws: { error in
            guard let vox = error as? VoxError else { return false }
            return vox.kind == .unsupported && vox.message.hasPrefix("CUDA was requested, but there is no usable NVIDIA GPU")
        }
        let noProvider = Fixtures.machine(cpu: Fixtures.ryzen7950X, gpus: [Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24)], providers: ["CPUExecutionProvider"])
        #expect { try ExecutionPlanner().plan(hardware: noProvider, inventory: Fixtures.piper, overrides: PlanOverrides(provider: .cuda)) } throws: { error in
            (error as? VoxError)?.message.contains("install the GPU build") == true
        }
    }

    @Test("forced precision is used wherever shipped, with the CPU fp32 safety net last")
    func forcedPrecision() throws {
        let plan = try ExecutionPlanner().plan(hardware: rtx4090, inventory: Fixtures.chatterbox, overrides: PlanOverrides(precision: .int8))
        #expect(plan.entries.map(\.label) == ["cuda:0 int8", "cpu int8", "cpu fp32"])
        #expect(plan.reasons.contains { $0.contains("precision int8 forced by the user") })
    }

    @Test("a forced precision the model does not ship is refused")
    func forcedPrecisionMissing() {
        #expect { try ExecutionPlanner().plan(hardware: rtx4090, inventory: Fixtures.piper, overrides: PlanOverrides(precision: .fp16)) } throws: { error in
            (error as? VoxError)?.kind == .invalidInput && (error as? VoxError)?.message == "The model en_US-joe-medium ships no fp16 variant; it has fp32."
        }
    }

    @Test("forced thread counts apply to every entry")
    func forcedThreads() throws {
        let plan = try ExecutionPlanner().plan(
            hardware: rtx4090, inventory: Fixtures.chatterbox, overrides: PlanOverrides(intraOpThreads: 3, interOpThreads: 2)
        )
        #expect(plan.entries.allSatisfy { $0.intraOpThreads == 3 && $0.interOpThreads == 2 })
        #expect(plan.entries[0].reasons.contains("3 intra-op threads, set by the user."))
        #expect(throws: VoxError.self) {
            try ExecutionPlanner().plan(hardware: rtx4090, inventory: Fixtures.piper, overrides: PlanOverrides(intraOpThreads: 0))
        }
    }

    @Test("disabling optimizations turns off graph optimization, the model cache and CUDA graphs")
    func disabledOptimizations() throws {
        let plan = try ExecutionPlanner().plan(hardware: rtx4090, inventory: Fixtures.mixed, overrides: PlanOverrides(disableOptimizations: true))
        #expect(plan.entries.count > 1)
        for entry in plan.entries {
            #expect(entry.graphOptimization == .disabled)
            #expect(entry.optimizedModelCacheKey == nil)
            #expect(entry.components.allSatisfy { !$0.cudaGraph })
        }
        #expect(plan.entries[0].reasons.contains("speaker_encoder: no CUDA graph (optimizations disabled by the user)."))
    }

    @Test("a chosen GPU index is used, and an unknown one is refused")
    func deviceIndex() throws {
        let twoGPUs = Fixtures.machine(cpu: Fixtures.ryzen7950X, gpus: [
            Fixtures.gpu("NVIDIA GeForce RTX 4090", 8, 9, gib: 24, index: 0),
            Fixtures.gpu("NVIDIA GeForce RTX 3060", 8, 6, gib: 12, index: 1),
        ])
        let plan = try ExecutionPlanner().plan(hardware: twoGPUs, inventory: Fixtures.piper, overrides: PlanOverrides(deviceIndex: 1))
        #expect(plan.entries.map(\.label) == ["cuda:1 fp32", "cpu fp32"])
        #expect { try ExecutionPlanner().plan(hardware: twoGPUs, inventory: Fixtures.piper, overrides: PlanOverrides(deviceIndex: 5)) } throws: { error in
            (error as? VoxError)?.message == "There is no GPU 5; this machine has 0 (NVIDIA GeForce RTX 4090), 1 (NVIDIA GeForce RTX 3060)."
        }
    }
}
