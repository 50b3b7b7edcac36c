import Foundation
import Testing
import VoxCore
import VoxONNX
@testable import VoxOptimizer

/// The CPU plan follows what `voxserve bench chatterbox` measured on the machine's CPU.
@Suite struct MeasuredPrecisionTests {
    static let measured = MeasuredPrecisionSpeed(
        cpu: Fixtures.i7_12700K.modelName, realTimeFactor: ["fp32": 2.15, "int8": 1.03, "q4": 0.81], measuredAt: "2026-11-30T15:00:00Z",
        command: "voxserve bench chatterbox")

    @Test func theMeasuredFastestPrecisionLeadsTheCPUPlan() throws {
        let hardware = Fixtures.machine(cpu: Fixtures.i7_12700K)
        // By its features alone (AVX-VNNI) this CPU prefers int8; the measurement says q4.
        let byFeatures = try ExecutionPlanner().plan(hardware: hardware, inventory: Fixtures.chatterbox)
        #expect(byFeatures.entries.map(\.label) == ["cpu int8", "cpu q4", "cpu fp32"])
        let byMeasurement = try ExecutionPlanner().plan(hardware: hardware, inventory: Fixtures.chatterbox, measured: Self.measured)
        #expect(byMeasurement.entries.map(\.label) == ["cpu q4", "cpu int8", "cpu fp32"])
        #expect(byMeasurement.reasons.contains { $0.contains("q4 RTF 0.81, int8 RTF 1.03, fp32 RTF 2.15") })
        // A precision forced by the user still wins.
        var forced = PlanOverrides()
        forced.precision = .int8
        #expect(try ExecutionPlanner().plan(hardware: hardware, inventory: Fixtures.chatterbox, overrides: forced, measured: Self.measured)
            .entries.first?.label == "cpu int8")
    }

    @Test func aMeasurementIsKeptPerCPUAndIgnoredOnAnother() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vox-measured-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.measured.save(cacheDirectory: dir)
        #expect(MeasuredPrecisionSpeed.load(cacheDirectory: dir, cpu: Fixtures.i7_12700K.modelName) == Self.measured)
        #expect(MeasuredPrecisionSpeed.load(cacheDirectory: dir, cpu: Fixtures.ryzen5600X.modelName) == nil)
        #expect(Self.measured.order == [.q4, .int8, .fp32])
    }
}
