import Testing
import VoxONNX
@testable import VoxOptimizer

@Suite struct HardwareParsingTests {
    @Test("a two-socket Xeon: model, 4 physical of 8 logical, AVX-512 with VNNI")
    func xeonCPUInfo() {
        let info = ProcCPUInfo(parsing: Fixtures.xeonCPUInfo)
        #expect(info.modelName == "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
        #expect(info.vendor == "GenuineIntel")
        #expect(info.logicalCores == 8)
        #expect(info.physicalCores == 4)
        let features = SIMDFeatures(flags: info.flags)
        #expect(features == SIMDFeatures(avx2: true, fma: true, f16c: true, avx512f: true, avx512VNNI: true))
        #expect(features.hasInt8DotProduct)
        #expect(features.names == ["avx2", "fma", "f16c", "avx512f", "avx512_vnni"])
    }

    @Test("an AMD EPYC (Zen 2): AVX2 and FMA, no AVX-512, no VNNI")
    func epycCPUInfo() {
        let info = ProcCPUInfo(parsing: Fixtures.epycCPUInfo)
        #expect(info.modelName == "AMD EPYC 7742 64-Core Processor")
        #expect(info.vendor == "AuthenticAMD")
        #expect(info.logicalCores == 8)
        #expect(info.physicalCores == 4)
        let features = SIMDFeatures(flags: info.flags)
        #expect(features.avx2 && features.fma && features.f16c)
        #expect(!features.avx512f && !features.avx512BF16 && !features.hasInt8DotProduct)
    }

    @Test("Sapphire Rapids flags: AMX tile, bf16 and int8")
    func amxFlags() {
        let features = SIMDFeatures(flags: "avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8 avx_vnni".split(separator: " ").map(String.init))
        #expect(features.amxTile && features.amxBF16 && features.amxInt8 && features.avx512BF16 && features.avxVNNI)
    }

    @Test("a VM that hides core ids counts cores from 'cpu cores', and one that hides both counts logical CPUs")
    func hiddenTopology() {
        let withCores = """
            processor\t: 0
            model name\t: QEMU Virtual CPU version 2.5+
            physical id\t: 0
            cpu cores\t: 2
            flags\t\t: fpu sse2 avx2

            processor\t: 1
            model name\t: QEMU Virtual CPU version 2.5+
            physical id\t: 0
            cpu cores\t: 2

            processor\t: 2
            model name\t: QEMU Virtual CPU version 2.5+
            physical id\t: 0
            cpu cores\t: 2

            processor\t: 3
            model name\t: QEMU Virtual CPU version 2.5+
            physical id\t: 0
            cpu cores\t: 2
            """
        #expect(ProcCPUInfo(parsing: withCores).physicalCores == 2)
        #expect(ProcCPUInfo(parsing: withCores).logicalCores == 4)
        let bare = "processor\t: 0\nmodel name\t: Bare\nprocessor\t: 1\nmodel name\t: Bare\n"
        #expect(ProcCPUInfo(parsing: bare).physicalCores == 2)
        #expect(ProcCPUInfo(parsing: bare).logicalCores == 2)
    }

    @Test("an Arm cpuinfo without 'model name' still gives a name and its Features")
    func armCPUInfo() {
        let text = """
            processor\t: 0
            BogoMIPS\t: 50.00
            Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
            CPU implementer\t: 0x41
            CPU part\t: 0xd0c

            processor\t: 1
            Features\t: fp asimd
            CPU implementer\t: 0x41
            CPU part\t: 0xd0c
            """
        let info = ProcCPUInfo(parsing: text)
        #expect(info.modelName == "CPU part 0xd0c")
        #expect(info.logicalCores == 2)
        #expect(info.flags.contains("asimddp"))
        #expect(!SIMDFeatures(flags: info.flags).avx2)
    }

    @Test("meminfo: total and available in bytes; MemFree + Cached when MemAvailable is missing")
    func meminfo() throws {
        let report = try #require(HardwareProbe.parseMemInfo(Fixtures.meminfo))
        #expect(report.totalBytes == 65_839_012 * 1024)
        #expect(report.availableBytes == 48_211_324 * 1024)
        let old = try #require(HardwareProbe.parseMemInfo("MemTotal: 1000 kB\nMemFree: 200 kB\nCached: 300 kB\n"))
        #expect(old.availableBytes == 500 * 1024)
        #expect(HardwareProbe.parseMemInfo("garbage") == nil)
    }

    @Test("CPU lists, the affinity line, and sibling lists")
    func cpuLists() {
        #expect(HardwareProbe.parseCPUList("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11])
        #expect(HardwareProbe.parseCPUList("x,5-2,7") == [7])
        let status = "Name:\tswift-test\nCpus_allowed:\t0f\nCpus_allowed_list:\t0-1,4\nMems_allowed_list:\t0\n"
        #expect(HardwareProbe.parseAllowedCPUs(status: status) == [0, 1, 4])
        let siblings = [0: "0,4", 1: "1,5", 2: "2,6", 3: "3,7", 4: "0,4", 5: "1,5", 6: "2,6", 7: "3,7"]
        #expect(HardwareProbe.countPhysicalCores(siblingLists: siblings) == 4)
        #expect(HardwareProbe.countPhysicalCores(siblingLists: siblings, allowed: [0, 4, 1]) == 2)
    }

    @Test("cgroup quotas and limits, v2 and v1")
    func cgroups() {
        #expect(HardwareProbe.parseCgroupCPUMax("max 100000\n") == nil)
        #expect(HardwareProbe.parseCgroupCPUMax("250000 100000\n") == 2.5)
        #expect(HardwareProbe.parseCgroupV1CPUQuota(quota: "-1", period: "100000") == nil)
        #expect(HardwareProbe.parseCgroupV1CPUQuota(quota: "50000\n", period: "100000\n") == 0.5)
        #expect(HardwareProbe.parseCgroupMemoryLimit("max\n") == nil)
        #expect(HardwareProbe.parseCgroupMemoryLimit("9223372036854771712\n") == nil)
        #expect(HardwareProbe.parseCgroupMemoryLimit("4294967296\n") == 4_294_967_296)
    }

    @Test("usable cores: affinity, then a quota rounded down, at least one")
    func usableCores() {
        #expect(CPUReport(modelName: "x", physicalCores: 16, logicalCores: 32).usableCores == 16)
        #expect(CPUReport(modelName: "x", physicalCores: 16, logicalCores: 32, allowedPhysicalCores: 4).usableCores == 4)
        #expect(CPUReport(modelName: "x", physicalCores: 16, logicalCores: 32, cpuQuota: 2.9).usableCores == 2)
        #expect(CPUReport(modelName: "x", physicalCores: 16, logicalCores: 32, cpuQuota: 0.5).usableCores == 1)
    }

    @Test("compute capabilities order and their fp16/bf16 abilities")
    func computeCapabilities() {
        let pascal = ComputeCapability(6, 1), turing = ComputeCapability(7, 5), ampere = ComputeCapability(8, 0)
        let ada = ComputeCapability(8, 9), hopper = ComputeCapability(9, 0), blackwell = ComputeCapability(12, 0)
        #expect([blackwell, turing, ada, pascal, hopper, ampere].sorted() == [pascal, turing, ampere, ada, hopper, blackwell])
        #expect(!pascal.hasFastFP16 && turing.hasFastFP16 && !turing.hasBF16 && ampere.hasBF16)
        #expect(ComputeCapability(10, 0) > ComputeCapability(9, 10))
        #expect(ada.description == "8.9")
    }
}
