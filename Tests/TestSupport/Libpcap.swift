import CPcap

#if canImport(Glibc)
import Glibc
#endif

/// The capture corpus: `LABYRINTH_CORPUS` (CI sets it to ../shared/corpus),
/// else ../shared/corpus next to the package when it exists.
/// The capture corpus: every file under `Tests/Corpus` (tcpdump's test
/// captures, in the repository), plus those under `LABYRINTH_CORPUS` when it
/// is set. A file of the same name and size as one already listed is listed
/// once.
public func corpusFiles() -> [String] {
    var roots = [packageRoot + "/Tests/Corpus"]
    if let env = getenv("LABYRINTH_CORPUS"), env.pointee != 0 {
        roots.append(String(decoding: UnsafeRawBufferPointer(start: env, count: strlen(env)), as: UTF8.self))
    }
    var files: [String] = []
    var seen = Set<String>()
    func walk(_ dir: String) {
        guard let d = opendir(dir) else { return }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let path = dir + "/" + name
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            if st.st_mode & S_IFMT == S_IFDIR {
                walk(path)
            } else if name.hasSuffix(".pcap") || name.hasSuffix(".pcapng") || name.hasSuffix(".cap") {
                if seen.insert("\(name)/\(st.st_size)").inserted { files.append(path) }
            }
        }
    }
    for root in roots { walk(root) }
    return files.sorted()
}

/// What libpcap reads from a file: every record until EOF or its first error.
/// Timestamps are compared only where libpcap 1.10 keeps them intact: it
/// sign-extends the 32-bit seconds and fraction (so 2038 and later, and
/// fractions of a second beyond 2^31, come out negative), where the file
/// format says unsigned and we read unsigned.
public struct LibpcapRecord: Equatable, Sendable {
    public var caplen: Int
    public var wirelen: Int
    public var ns: Int64?

    public init(caplen: Int, wirelen: Int, ns: Int64?) {
        self.caplen = caplen
        self.wirelen = wirelen
        self.ns = ns
    }

    public static func == (a: LibpcapRecord, b: LibpcapRecord) -> Bool {
        a.caplen == b.caplen && a.wirelen == b.wirelen && (a.ns == nil || b.ns == nil || a.ns == b.ns)
    }
}

public func libpcapRead(_ path: String) -> (records: [LibpcapRecord], error: String?) {
    var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
    guard let p = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
        return ([], String(decoding: errbuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    defer { pcap_close(p) }
    var out: [LibpcapRecord] = []
    var header: UnsafeMutablePointer<pcap_pkthdr>?
    var data: UnsafePointer<UInt8>?
    while true {
        let rc = pcap_next_ex(p, &header, &data)
        if rc == 1, let h = header?.pointee {
            let intact = h.ts.tv_sec >= 0 && h.ts.tv_usec >= 0 && h.ts.tv_usec < 1_000_000_000
            out.append(
                LibpcapRecord(
                    caplen: Int(h.caplen), wirelen: Int(h.len),
                    ns: intact ? Int64(h.ts.tv_sec) * 1_000_000_000 + Int64(h.ts.tv_usec) : nil))
        } else if rc == PCAP_ERROR_BREAK {
            return (out, nil)
        } else {
            return (out, String(cString: pcap_geterr(p)))
        }
    }
}

/// One record with its bytes, as libpcap reads it.
public struct LibpcapFrame: Sendable {
    public var data: [UInt8]
    public var wirelen: Int
    public var ns: Int64
}

/// Every record of a capture file with its bytes and the file's link type;
/// nil (with libpcap's message) when libpcap cannot open or finish it.
public func libpcapFrames(_ path: String) -> (linkType: Int32, frames: [LibpcapFrame])? {
    var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
    guard let p = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
        return nil
    }
    defer { pcap_close(p) }
    var out: [LibpcapFrame] = []
    var header: UnsafeMutablePointer<pcap_pkthdr>?
    var data: UnsafePointer<UInt8>?
    while true {
        let rc = pcap_next_ex(p, &header, &data)
        if rc == 1, let h = header?.pointee, let data {
            out.append(
                LibpcapFrame(
                    data: Array(UnsafeBufferPointer(start: data, count: Int(h.caplen))), wirelen: Int(h.len),
                    ns: Int64(h.ts.tv_sec) * 1_000_000_000 + Int64(h.ts.tv_usec)))
        } else if rc == PCAP_ERROR_BREAK {
            return (pcap_datalink(p), out)
        } else {
            return nil
        }
    }
}
