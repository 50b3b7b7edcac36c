/// What `speak --timings` prints, for the benchmark that runs it as a subprocess.
struct SpeakTimings: Codable {
    var engineReady: Double
    var firstAudio: Double
    var total: Double
    var audioSeconds: Double
    var optimized: Bool
}
