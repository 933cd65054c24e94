import Capture
import Packet
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Capture files against libpcap")
struct CorpusTests {
    @Test("every corpus file reads record for record as libpcap reads it")
    func corpusMatchesLibpcap() throws {
        let files = corpusFiles()
        try #require(!files.isEmpty, "no corpus found under Tests/Corpus")
        var mismatches: [String] = []
        var differentInterfaces = 0
        for file in files {
            let reference = libpcapRead(file)
            var ours: [LibpcapRecord] = []
            var ourError: CaptureFileError?
            do {
                var reader = try CaptureFileReader(path: file)
                while let r = try reader.next() {
                    ours.append(LibpcapRecord(caplen: r.capturedLength, wirelen: r.wireLength, ns: r.timestamp))
                }
            } catch {
                ourError = error
            }
            // libpcap gives up on pcapng files whose interfaces differ in link
            // type or snap length; we read them (each with its own).
            if let e = reference.error, e.contains("different from the") {
                differentInterfaces += 1
                #expect(ours.count >= reference.records.count, "\(file)")
                #expect(Array(ours.prefix(reference.records.count)) == reference.records, "\(file)")
                continue
            }
            if ours != reference.records {
                let firstDiff = zip(ours, reference.records).enumerated().first { $0.element.0 != $0.element.1 }
                mismatches.append(
                    "\(file): ours \(ours.count) records, libpcap \(reference.records.count); "
                        + "first difference at \(firstDiff.map { "\($0.offset + 1): \($0.element.0) vs \($0.element.1)" } ?? "the end"); "
                        + "our error: \(ourError.map { "\($0)" } ?? "none"); libpcap's: \(reference.error ?? "none")")
            }
            // Batched reading returns the same records and the same end.
            var batched: [LibpcapRecord] = []
            var batchError: CaptureFileError?
            do {
                var reader = try CaptureFileReader(path: file)
                let buffer = UnsafeMutablePointer<CaptureRecord>.allocate(capacity: 7)
                defer { buffer.deallocate() }
                while true {
                    let n = try reader.next(into: buffer, capacity: 7)
                    if n == 0 { break }
                    for i in 0..<n {
                        batched.append(
                            LibpcapRecord(
                                caplen: buffer[i].capturedLength, wirelen: buffer[i].wireLength, ns: buffer[i].timestamp
                            ))
                    }
                }
            } catch {
                batchError = error
            }
            if batched != ours || batchError != ourError {
                mismatches.append(
                    "\(file): batched reading gave \(batched.count) records and \(batchError.map { "\($0)" } ?? "no error")"
                )
            }
            // Both see damage, or neither does.
            if (ourError == nil) != (reference.error == nil) {
                mismatches.append(
                    "\(file): our error \(ourError.map { "\($0)" } ?? "none") vs libpcap's \(reference.error ?? "none")"
                )
            }
        }
        let report = mismatches.joined(separator: "\n")
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(files.count) files differ:\n\(report)")
        print("corpus: \(files.count) files, \(differentInterfaces) with differing pcapng interfaces")
    }
}
