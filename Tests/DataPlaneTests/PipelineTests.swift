import Capture
import DataPlane
import Rooms
import Sinks
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The pipeline's build, failed at each stage in turn, undoes every stage
/// before it: no data-plane thread is left, no recording file (neither a
/// `.part` nor an empty one), no page out of the arena. Each case runs in a
/// process of its own (an exit test), so that the threads counted are the
/// pipeline's alone.
@Suite("Pipeline: built in order, undone in reverse")
struct PipelineTests {
    @Test("the arena cannot be had: nothing left behind")
    func arenaFails() async {
        await #expect(processExitsWith: .success) { try PipelineTests.failAt(.arena) }
    }

    @Test("a worker cannot open its source: the others stop, nothing left behind")
    func workersFail() async {
        await #expect(processExitsWith: .success) { try PipelineTests.failAt(.workers) }
    }

    @Test("the recording's thread cannot start: the workers stop, nothing left behind")
    func recorderFails() async {
        await #expect(processExitsWith: .success) { try PipelineTests.failAt(.recorder) }
    }

    @Test("the exporter's thread cannot start: the workers and the recording stop, nothing left behind")
    func exporterFails() async {
        await #expect(processExitsWith: .success) { try PipelineTests.failAt(.exporter) }
    }

    /// Builds a pipeline (two workers, a recording, an exporter) that fails
    /// at `stage` as it would in life: an arena of the wrong size, an
    /// interface that does not exist, a CPU that does not exist for the
    /// recording's or the exporter's thread. Exits non-zero, with a code
    /// that says what went wrong, unless the failure left nothing behind.
    static func failAt(_ stage: Pipeline.Stage) throws {
        let directory = makeDirectory("pipeline")
        let recorder = try Recorder(
            options: RecordingOptions(
                naming: try FileNaming(
                    template: directory + "/run.pcapng", workers: 2, rotation: RotationConfiguration())))
        // The recording's first files are prepared (hidden .part files).
        if entries(directory).isEmpty { exit(10) }
        var options = WorkerOptions()
        options.flowCapacity = 1024
        let arena = ArenaConfiguration(
            rooms: 2, pagesPerRoom: stage == .arena ? 100 : 1024, lock: .off, hugePages: .none)
        let sources = stage == .workers ? [LiveSourceOptions(interface: "nosuch0")] : []
        let nowhere = [4095]
        let collector = try IPFIXCollector.parse("127.0.0.1:9").get()
        do {
            _ = try Pipeline(
                arena: arena, recorder: recorder, recorderCPUs: stage == .recorder ? nowhere : nil,
                workers: options, cpus: nil, fifoPriority: nil, ringCapacity: 1024, sources: sources,
                exporter: { pool in
                    try FlowExporter(options: FlowExportOptions(collectors: [collector]), rings: pool.exportRings)
                }, exporterCPUs: stage == .exporter ? nowhere : nil)
            exit(11)  // it should have failed
        } catch {
            if error.stage != stage { exit(12) }
            if let leaks = error.leaks, !leaks.isClean { exit(13) }
            if stage != .arena && error.leaks == nil { exit(14) }
        }
        // Nothing of the run: no file, no data-plane thread.
        if !entries(directory).isEmpty { exit(15) }
        if !dataPlaneThreads().isEmpty { exit(16) }
        rmdir(directory)
    }

    /// The names in a directory (hidden ones too).
    static func entries(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The threads of this process that the pipeline starts: workers
    /// (`lab-irq/N`), the recording's and the exporter's (`ctl-record`,
    /// `ctl-ipfix`).
    static func dataPlaneThreads() -> [String] {
        entries("/proc/self/task").compactMap { tid in
            guard let bytes = readFile("/proc/self/task/\(tid)/comm") else { return nil }
            let name = String(decoding: bytes, as: UTF8.self).trimmingNewline
            return name.hasPrefix("lab-") || name.hasPrefix("ctl-") ? name : nil
        }
    }

    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buffer, buffer.count)
        return n >= 0 ? Array(buffer.prefix(n)) : nil
    }

    /// Under the test process's scratch root, removed when it exits even
    /// when a check fails first.
    static func makeDirectory(_ prefix: String) -> String { temporaryDirectory(prefix) }
}

extension String {
    fileprivate var trimmingNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
