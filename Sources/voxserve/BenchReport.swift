import Foundation

/// Every figure `voxserve bench` measured, written as report.json, report.md and report.svg (a bar
/// chart of medians with min–max whiskers, drawn here: no plotting library).
struct BenchReport: Codable {
    struct Figure: Codable {
        enum Side: String, Codable {
            case voxserve, baseline, peer
        }
        var group: String
        var name: String
        var unit: String
        var side: Side
        var samples: [Double]

        var median: Double { Stats(samples).median }
        var min: Double { samples.min() ?? .nan }
        var max: Double { samples.max() ?? .nan }
        var measured: Bool { !samples.isEmpty && samples.allSatisfy { $0.isFinite && $0 >= 0 } }
    }

    var machine: String
    var date: String
    var quick: Bool
    var figures: [Figure] = []
    /// The comparison lines printed during the run (ratios measured in this run).
    var lines: [String] = []
    /// Parts that could not run, and why.
    var skipped: [String] = []

    mutating func add(_ group: String, _ name: String, _ unit: String, _ side: Figure.Side, _ samples: [Double]) {
        figures.append(Figure(group: group, name: name, unit: unit, side: side, samples: samples))
    }

    /// Figures without a finite measurement.
    var unmeasured: [String] { figures.filter { !$0.measured }.map { "\($0.group): \($0.name)" } }

    // MARK: the parts' figures

    mutating func add(speak s: SpeakBench) {
        add("speak, whole process (s)", "voxserve speak", "s", .voxserve, s.voxserve.samples)
        add("speak, whole process (s)", "voxserve speak --no-optimize", "s", .baseline, s.voxserveNoOptimize.samples)
        add("speak, whole process (s)", "piper (Python piper-tts)", "s", .peer, s.piperPython.samples)
        lines.append(String(format: "speak: VoxServe vs piper %.2fx faster; vs --no-optimize %.2fx", s.speedupOverPiper, s.speedupOverNoOptimize))
    }

    mutating func add(optimizer o: OptimizerBench) {
        let cold = "cold start to first audio (s)"
        add(cold, "--no-optimize", "s", .baseline, o.coldFirstAudioNoOptimize.samples)
        add(cold, "optimized, no cached optimized model", "s", .voxserve, o.coldFirstAudioOptimizedNoCachedModel.samples)
        add(cold, "optimized, cached optimized model", "s", .voxserve, o.coldFirstAudioOptimizedCachedModel.samples)
        let warm = "warm synthesis of five sentences (s)"
        add(warm, "--no-optimize", "s", .baseline, o.warmSynthesisNoOptimize.samples)
        add(warm, "optimized", "s", .voxserve, o.warmSynthesisOptimized.samples)
        lines.append(String(format: "optimizer: warm synthesis --no-optimize / optimized %.2fx; cold first audio %.2fx",
                            o.warmSynthesisNoOptimize.median / o.warmSynthesisOptimized.median,
                            o.coldFirstAudioNoOptimize.median / o.coldFirstAudioOptimizedCachedModel.median))
    }

    mutating func add(cache c: ConditioningCacheBenchmarkResultView) {
        let group = String(format: "speaker conditioning of a %.0f s reference (ms)", c.referenceSeconds)
        add(group, "miss (decode, resample, encoder)", "ms", .baseline, [c.miss * 1000])
        add(group, "memory hit", "ms", .voxserve, c.memoryHits.map { $0 * 1000 })
        add(group, "disk hit", "ms", .voxserve, c.diskHits.map { $0 * 1000 })
        lines.append(String(format: "cache: memory hit %.0fx, disk hit %.0fx faster than a miss", c.memorySpeedup, c.diskSpeedup))
    }

    mutating func add(chatterbox c: ChatterboxBenchResult) {
        for p in c.precisions {
            let prefix = "chatterbox \(c.label) \(p.precision)"
            add("\(prefix): language model per token (ms)", "voxserve", "ms", .voxserve, p.voxserveMsPerToken.samples)
            add("\(prefix): language model per token (ms)", "reference loop", "ms", .peer, p.referenceMsPerToken.samples)
            add("\(prefix): time to first audio (s)", "voxserve", "s", .voxserve, p.voxserveFirstAudio.samples)
            add("\(prefix): time to first audio (s)", "reference loop", "s", .peer, p.referenceFirstAudio.samples)
            add("\(prefix): RTF, \(String(format: "%.0f", c.audioSeconds)) s of speech", "voxserve", "", .voxserve, p.voxserveRTF.samples)
            add("\(prefix): RTF, \(String(format: "%.0f", c.audioSeconds)) s of speech", "reference loop", "", .peer, p.referenceRTF.samples)
            add("\(prefix): peak RSS (MiB)", "voxserve", "MiB", .voxserve, p.voxservePeakRSSMiB.samples)
            add("\(prefix): peak RSS (MiB)", "reference loop", "MiB", .peer, p.referencePeakRSSMiB.samples)
            lines += Bench.chatterboxLines(label: c.label, p)
        }
    }

    // MARK: writing

    func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: directory.appendingPathComponent("report.json"))
        try Data(markdown.utf8).write(to: directory.appendingPathComponent("report.md"))
        try Data(svg.utf8).write(to: directory.appendingPathComponent("report.svg"))
    }

    var groups: [(name: String, figures: [Figure])] {
        var order: [String] = []
        var byGroup: [String: [Figure]] = [:]
        for f in figures {
            if byGroup[f.group] == nil { order.append(f.group) }
            byGroup[f.group, default: []].append(f)
        }
        return order.map { ($0, byGroup[$0]!) }
    }

    var markdown: String {
        var md = "# VoxServe benchmark\n\n\(machine), \(date)\(quick ? " (quick run: one run each, small workloads)" : "")\n\n"
        md += "![bench chart](report.svg)\n\n"
        if !lines.isEmpty {
            md += "## Comparisons (measured in this run)\n\n" + lines.map { "- \($0)" }.joined(separator: "\n") + "\n\n"
        }
        for (group, figures) in groups {
            md += "## \(group)\n\n| | median | min | max | runs |\n|---|---:|---:|---:|---:|\n"
            for f in figures {
                md += "| \(f.name) | \(Self.format(f.median)) | \(Self.format(f.min)) | \(Self.format(f.max)) | \(f.samples.count) |\n"
            }
            md += "\n"
        }
        if !skipped.isEmpty { md += "## Not measured\n\n" + skipped.map { "- \($0)" }.joined(separator: "\n") + "\n" }
        return md
    }

    static func format(_ v: Double) -> String {
        guard v.isFinite else { return "–" }
        if v >= 100 { return String(format: "%.0f", v) }
        if v >= 1 { return String(format: "%.2f", v) }
        return String(format: "%.3f", v)
    }

    /// Horizontal bars (median) with min–max whiskers, one panel per group, each on its own scale.
    var svg: String {
        let width = 900.0, labelWidth = 330.0, barArea = 440.0, rowHeight = 22.0, titleHeight = 28.0, gap = 14.0
        let colors: [Figure.Side: String] = [.voxserve: "#2b6cb0", .baseline: "#a0aec0", .peer: "#dd6b20"]
        var y = 40.0
        var body = ""
        for (group, figures) in groups {
            body += "<text x=\"10\" y=\"\(y + 18)\" font-weight=\"bold\">\(Self.escape(group))</text>\n"
            y += titleHeight
            let top = figures.map { $0.measured ? $0.max : 0 }.max() ?? 0
            let scale = top > 0 ? barArea / top : 0
            for f in figures {
                body += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 15)\" text-anchor=\"end\">\(Self.escape(f.name))</text>\n"
                if f.measured {
                    let w = max(1, f.median * scale)
                    body += "<rect x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(Self.fmt(w))\" height=\"\(rowHeight - 6)\" fill=\"\(colors[f.side]!)\"/>\n"
                    let x0 = labelWidth + f.min * scale, x1 = labelWidth + f.max * scale, mid = y + rowHeight / 2
                    body += "<line x1=\"\(Self.fmt(x0))\" y1=\"\(mid)\" x2=\"\(Self.fmt(x1))\" y2=\"\(mid)\" stroke=\"#1a202c\"/>\n"
                    for x in [x0, x1] {
                        body += "<line x1=\"\(Self.fmt(x))\" y1=\"\(mid - 5)\" x2=\"\(Self.fmt(x))\" y2=\"\(mid + 5)\" stroke=\"#1a202c\"/>\n"
                    }
                    body += "<text x=\"\(Self.fmt(labelWidth + barArea + 10))\" y=\"\(y + 15)\">\(Self.format(f.median)) \(f.unit)</text>\n"
                } else {
                    body += "<text x=\"\(labelWidth)\" y=\"\(y + 15)\" fill=\"#c53030\">not measured</text>\n"
                }
                y += rowHeight
            }
            y += gap
        }
        let legend = [("VoxServe", Figure.Side.voxserve), ("baseline (--no-optimize, cache miss)", .baseline), ("peer (Python tooling)", .peer)]
            .enumerated().map { i, item in
                let x = 10 + Double(i) * 250
                return "<rect x=\"\(x)\" y=\"10\" width=\"14\" height=\"14\" fill=\"\(colors[item.1]!)\"/><text x=\"\(x + 20)\" y=\"22\">\(item.0)</text>"
            }.joined(separator: "\n")
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(y + 10))" font-family="DejaVu Sans, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            \(legend)
            \(body)</svg>

            """
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// The cache benchmark's figures as the report reads them.
struct ConditioningCacheBenchmarkResultView {
    var referenceSeconds: Double
    var miss: Double
    var memoryHits: [Double]
    var diskHits: [Double]
    var memorySpeedup: Double
    var diskSpeedup: Double
}
