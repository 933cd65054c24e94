import DataPlane
import ForegroundRuns
import TestSupport
import Testing

@Suite("Replay of the tcpdump corpus")
struct ReplayCorpusTests {
    @Test("every file: packets and bytes equal what libpcap reads, nothing crashes, nothing leaks")
    func corpus() async throws {
        let files = corpusFiles()
        try #require(!files.isEmpty, "no corpus found under Tests/Corpus")
        // All files in one replay through two workers.
        let report = try await replay(files, workers: 2)
        #expect(report.files.count == files.count)
        var differences: [String] = []
        for (file, result) in zip(files, report.files) {
            let reference = libpcapRead(file)
            let packets = reference.records.count
            let bytes = reference.records.reduce(0) { $0 + $1.caplen }
            if result.packets != packets || result.bytes != bytes {
                differences.append(
                    "\(file): \(result.packets) packets / \(result.bytes) bytes; libpcap \(packets) / \(bytes)")
            }
            if (result.error == nil) != (reference.error == nil) {
                differences.append(
                    "\(file): error \(result.error.map { "\($0)" } ?? "none") vs libpcap's \(reference.error ?? "none")"
                )
            }
        }
        let text = differences.joined(separator: "\n")
        #expect(differences.isEmpty, "\(differences.count) files differ:\n\(text)")
        // Every record the reader read reached a worker or was counted as unsupported.
        let dispatched = report.received + (report.reader[.unsupportedLinkType] ?? 0)
        #expect(dispatched == report.packets)
        #expect(report.received == report.total(.processed) + report.total(.droppedNoMemory))
        #expect(report.total(.droppedNoMemory) == 0)
        print(
            "corpus replay: \(report.packets) packets, \(report.bytes) bytes, \(report.errors.count) files with errors, "
                + "\(report.reader[.unsupportedLinkType] ?? 0) unsupported link type records")
    }
}
