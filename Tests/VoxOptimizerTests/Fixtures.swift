import VoxCore
import VoxONNX
@testable import VoxOptimizer

/// Fake machines and models for the planner and probe tests.
enum Fixtures {
    static let gib: UInt64 = 1 << 30

    // MARK: /proc text

    static let xeonFlags = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l3 cdp_l3 invpcid_single intel_ppin ssbd mba ibrs ibpb stibp ibrs_enhanced tpr_shadow vnmi flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 hle avx2 smep bmi2 erms invpcid rtm cqm mpx rdt_a avx512f avx512dq rdseed adx smap clflushopt clwb intel_pt avx512cd avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local dtherm ida arat pln pts hwp hwp_act_window hwp_epp hwp_pkg_req pku ospke avx512_vnni md_clear flush_l1d arch_capabilities"

    static let epycFlags = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate ssbd mba ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 cqm rdt_a rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local clzero irperf xsaveerptr rdpru wbnoinvd amd_ppin arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold avic v_vmsave_vmload vgif v_spec_ctrl umip rdpid overflow_recov succor smca"

    /// /proc/cpuinfo text with one block per (physical id, core id) entry.
    static func cpuinfo(model: String, vendor: String, family: Int, flags: String, layout: [(socket: Int, core: Int)], coresPerSocket: Int) -> String {
        let siblings = layout.count / Set(layout.map(\.socket)).count
        return layout.enumerated().map { processor, place in
            """
            processor\t: \(processor)
            vendor_id\t: \(vendor)
            cpu family\t: \(family)
            model\t\t: 85
            model name\t: \(model)
            stepping\t: 7
            microcode\t: 0x5003604
            cpu MHz\t\t: 2500.000
            cache size\t: 28160 KB
            physical id\t: \(place.socket)
            siblings\t: \(siblings)
            core id\t\t: \(place.core)
            cpu cores\t: \(coresPerSocket)
            apicid\t\t: \(processor)
            fpu\t\t: yes
            cpuid level\t: 22
            wp\t\t: yes
            flags\t\t: \(flags)
            bogomips\t: 5000.00
            clflush size\t: 64
            cache_alignment\t: 64
            address sizes\t: 46 bits physical, 48 bits virtual
            power management:

            """
        }.joined(separator: "\n")
    }

    /// A two-socket Xeon Gold 6248 host, 2 × 2 cores with Hyper-Threading shown (8 logical CPUs).
    static let xeonCPUInfo = cpuinfo(
        model: "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", vendor: "GenuineIntel", family: 6, flags: xeonFlags,
        layout: [(0, 0), (0, 1), (1, 0), (1, 1), (0, 0), (0, 1), (1, 0), (1, 1)], coresPerSocket: 2
    )

    /// An AMD EPYC 7742 (Zen 2: AVX2, no AVX-512) VM with 4 cores and SMT (8 logical CPUs).
    static let epycCPUInfo = cpuinfo(
        model: "AMD EPYC 7742 64-Core Processor", vendor: "AuthenticAMD", family: 23, flags: epycFlags,
        layout: [(0, 0), (0, 1), (0, 2), (0, 3), (0, 0), (0, 1), (0, 2), (0, 3)], coresPerSocket: 4
    )

    static let meminfo = """
        MemTotal:       65839012 kB
        MemFree:        10293840 kB
        MemAvailable:   48211324 kB
        Buffers:          812344 kB
        Cached:         36120044 kB
        SwapCached:            0 kB
        Active:         21874324 kB
        HugePages_Total:       0
        Hugepagesize:       2048 kB
        """

    // MARK: machines

    static func cpu(_ name: String, cores: Int, threadsPerCore: Int = 2, flags: String, quota: Double? = nil) -> CPUReport {
        CPUReport(
            modelName: name, physicalCores: cores, logicalCores: cores * threadsPerCore, cpuQuota: quota,
            features: SIMDFeatures(flags: flags.split(separator: " ").map(String.init))
        )
    }

    static let i7_12700K = cpu("12th Gen Intel(R) Core(TM) i7-12700K", cores: 12, flags: "avx2 fma f16c avx_vnni")
    static let ryzen7950X = cpu("AMD Ryzen 9 7950X 16-Core Processor", cores: 16, flags: "avx2 fma f16c avx512f avx512_vnni avx512_bf16")
    static let ryzen5600X = cpu("AMD Ryzen 5 5600X 6-Core Processor", cores: 6, flags: "avx2 fma f16c")
    /// A cloud VM beside a T4: 4 vCPUs, 2 Cascade Lake cores.
    static let cascadeLakeVM = cpu("Intel(R) Xeon(R) CPU @ 2.20GHz", cores: 2, flags: "avx2 fma f16c avx512f avx512_vnni")
    static let i7_6700K = cpu("Intel(R) Core(TM) i7-6700K CPU @ 4.00GHz", cores: 4, flags: "avx2 fma f16c")
    /// Two-socket Sapphire Rapids beside an H100.
    static let xeon8480 = cpu("Intel(R) Xeon(R) Platinum 8480+", cores: 112, flags: "avx2 fma f16c avx512f avx512_vnni avx512_bf16 amx_tile amx_bf16 amx_int8")
    static let xeon6248 = cpu("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", cores: 20, flags: xeonFlags)
    static let epyc7742VM = cpu("AMD EPYC 7742 64-Core Processor", cores: 4, flags: epycFlags)
    static let oldCPU = cpu("Intel(R) Core(TM) i5-2500 CPU @ 3.30GHz", cores: 4, threadsPerCore: 1, flags: "sse4_2 avx")

    static func gpu(_ name: String, _ major: Int, _ minor: Int, gib memory: UInt64, index: Int = 0) -> GPUDevice {
        GPUDevice(index: index, name: name, computeCapability: ComputeCapability(major, minor), memoryTotalBytes: memory * gib,
                  memoryFreeBytes: memory * gib - gib / 2)
    }

    static let cudaProviders = ["CUDAExecutionProvider", "CPUExecutionProvider"]

    static func machine(cpu: CPUReport, gpus: [GPUDevice] = [], providers: [String]? = nil, ram: UInt64 = 32, cudaDriverVersion: Int? = 13000) -> HardwareReport {
        let gpu = gpus.isEmpty
            ? GPUReport.unavailable("libnvidia-ml.so.1 not found: no NVIDIA driver installed")
            : GPUReport(devices: gpus, driverVersion: "580.65.06", cudaDriverVersion: cudaDriverVersion)
        return HardwareReport(
            cpu: cpu, memory: MemoryReport(totalBytes: ram * gib, availableBytes: ram * gib * 3 / 4), gpu: gpu,
            onnxRuntimeProviders: providers ?? (gpus.isEmpty ? ["CPUExecutionProvider"] : cudaProviders)
        )
    }

    // MARK: models

    /// Chatterbox Turbo's ONNX export: four graphs, each in fp32, fp16, q4, q4f16 and int8.
    static let chatterbox = ModelInventory(
        model: "chatterbox-turbo", kind: .tokens,
        components: ["speech_encoder", "embed_tokens", "language_model", "conditional_decoder"].map {
            ModelComponent(name: ModelComponentID($0), precisions: [.fp32, .fp16, .q4, .q4f16, .int8])
        }
    )

    /// A Piper voice: one VITS graph in fp32, with dynamic shapes.
    static let piper = ModelInventory(model: "en_US-joe-medium", components: [ModelComponent(name: "vits", precisions: [.fp32])])

    /// A model that ships bf16 for its language model and has one static-shape graph.
    static let mixed = ModelInventory(
        model: "mixed", kind: .tokens,
        components: [
            ModelComponent(name: "language_model", precisions: [.fp32, .fp16, .bf16, .int8, .q4]),
            ModelComponent(name: "decoder", precisions: [.fp32, .fp16]),
            ModelComponent(name: "speaker_encoder", precisions: [.fp32], hasStaticShapes: true),
        ]
    )
}
