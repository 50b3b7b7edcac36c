import Foundation
import VoxOptimizer

/// Everything `voxserve doctor` reports: the one place a user reads what is installed, what this
/// machine offers, what the optimizer plans for each model and what falls back to what, and whether
/// VoxServe can speak. Built by `DoctorReport.build(factory:)`; Codable, so `--json` (and later a
/// server route) print the same document the text is rendered from.
public struct DoctorReport: Sendable, Equatable, Codable {
    public struct Paths: Sendable, Equatable, Codable {
        public var home: String
        public var cache: String
        /// What setup installed; nil when no `.deps` folder was found and `VOXSERVE_DEPS` is unset.
        public var deps: String?
        public var voices: String
        public var optimizedModels: String
        public var chatterbox: String
    }

    public struct Runtime: Sendable, Equatable, Codable {
        public var ok: Bool
        public var libraryPath: String?
        public var version: String?
        public var providers: [String]
        public var error: String?
    }

    /// The GPU build of ONNX Runtime (`make setup GPU=1`).
    public struct GPURuntime: Sendable, Equatable, Codable {
        public var installed: Bool
        /// True when the process loaded it (it is installed and NVML sees a GPU).
        public var active: Bool
        public var libraryPath: String?
        /// `name==version` of every package setup installed (its `versions.txt`).
        public var packages: [String]
        /// Libraries VoxONNX preloads that are not in its `nvidia` folder.
        public var missingLibraries: [String]
        /// Whether the CUDA libraries were loaded; nil when not tried (no GPU, or not active).
        public var cudaLibrariesLoaded: Bool?
        public var error: String?
        public var install: String
        /// The code the CUDA provider carries ("sm_80", "sm_90a", "compute_90"), as setup read it;
        /// nil when it was not read.
        public var architectures: [String]?
    }

    public struct Espeak: Sendable, Equatable, Codable {
        public var ok: Bool
        public var version: String?
        public var dataPath: String?
        public var error: String?
    }

    public struct AudioFormatSupport: Sendable, Equatable, Codable {
        public var format: String
        public var canEncode: Bool
    }

    public struct GPU: Sendable, Equatable, Codable {
        public var available: Bool
        public var devices: [GPUDevice]
        public var driverVersion: String?
        /// The newest CUDA the driver supports, "13.0".
        public var cudaDriverVersion: String?
        /// Why there is no usable GPU (the probe's reason), nil when there is one.
        public var reason: String?
    }

    /// One step down the plan: when `from` fails, `to` runs.
    public struct Fallback: Sendable, Equatable, Codable {
        public var from: String
        public var to: String
        public var when: String
    }

    public struct ModelPlan: Sendable, Equatable, Codable {
        public var model: String
        public var engine: String
        /// "setup", "user" or "directory".
        public var source: String
        public var path: String
        public var plan: ExecutionPlan?
        public var fallbacks: [Fallback]
        /// The primary entry's optimized graph: "cached", "not cached yet" or "not used".
        public var optimizedModel: String?
        public var optimizedModelPath: String?
        /// What happened when the doctor ran it (the default voice only): the optimizer's report.
        public var live: OptimizationReport?
        public var error: String?
    }

    public struct OptimizedModelCache: Sendable, Equatable, Codable {
        public var directory: String
        public var files: Int
        public var bytes: Int
    }

    public struct ConditioningCacheState: Sendable, Equatable, Codable {
        public var directory: String
        public var entries: Int
        public var bytes: Int
        public var writable: Bool
        public var error: String?
    }

    public struct Check: Sendable, Equatable, Codable {
        public var name: String
        public var ok: Bool
        /// A failed required check makes the verdict "not ready" and the exit status non-zero.
        public var required: Bool
        public var detail: String
    }

    public var paths: Paths
    public var onnxRuntime: Runtime
    public var gpuRuntime: GPURuntime
    public var espeak: Espeak
    public var audioFormats: [AudioFormatSupport]
    /// The probe (CPU, memory, GPUs, ONNX Runtime's providers).
    public var hardware: HardwareReport
    public var gpu: GPU
    /// False when `VOXSERVE_OPTIMIZE=0`: engines run plain and the plans below are not used.
    public var optimizer: Bool
    public var plans: [ModelPlan]
    public var optimizedModelCache: OptimizedModelCache
    public var conditioningCache: ConditioningCacheState
    public var checks: [Check]
    /// True when every required check passed.
    public var ok: Bool
    public var verdict: String
}
