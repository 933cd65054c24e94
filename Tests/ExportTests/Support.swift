import StatsProtocol
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Flow export end to end: the real `labyrinthd` exporting IPFIX to real
/// collectors (nfcapd, the test's own sockets) and against an independent
/// exporter (softflowd). One test at a time: each collector's socket must
/// drop nothing, and they share two CPUs.
@Suite("Flow export (IPFIX), end to end", .serialized, .removesCaptures)
struct ExportTests {}

/// Removes the captures the suite generated once it has run.
struct RemovesCaptures: SuiteTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        defer { removeCaptures() }
        try await function()
    }
}

extension Trait where Self == RemovesCaptures {
    static var removesCaptures: Self { Self() }
}

// MARK: Running labyrinthd

/// Flow timeouts long enough that no flow ends before the replay does: every
/// flow is then in the report's list and ends forced (reason 4) at the end.
let keepFlowsToTheEnd = [
    "--idle-timeout", "31536000", "--active-timeout", "31536000", "--tcp-linger", "31536000",
]

/// `labyrinthd replay FILES --json` unpinned and unlocked, with `arguments`;
/// the report and the process's result. Throws unless it exits 0 with a report.
func replay(_ files: [String], _ arguments: [String], timeoutSeconds: Int = 120) throws -> (
    report: ReplayReportDocument, result: ProcessResult, seconds: Double
) {
    let start = monotonicSeconds()
    let result = run(
        [executable("labyrinthd"), "replay"] + files + ["--json", "--no-lock", "--cpus", "none"] + arguments,
        timeoutSeconds: timeoutSeconds)
    let seconds = monotonicSeconds() - start
    guard result.status == 0 else {
        throw TestFailure("labyrinthd replay \(arguments) exited \(result.status): \(result.stderr)")
    }
    let json = try JSON.parse(result.stdout, maximumDepth: 64)
    return (try JSONCoding.decode(ReplayReportDocument.self, from: json), result, seconds)
}

// MARK: Captures

/// Where the captures the suite generates live (made on first use).
private let capturesDirectory: String = {
    let directory = temporaryDirectory("export-captures")
    capturesToRemove.withLock { $0 = directory }
    return directory
}()
private let capturesToRemove = Mutex<String?>(nil)

/// Removes the generated captures, if any were made.
func removeCaptures() {
    if let d = capturesToRemove.withLock({ $0 }) { IPFIXTestSystem.removeDirectory(d) }
}

enum Captures {
    /// The scapy mixed capture (Tests/Fixtures/make_mixed.py, 3000 frames,
    /// Ethernet) and its generator's independent count; generated once.
    static let mixed: (path: String, expected: JSON)? = {
        let pcap = capturesDirectory + "/mixed.pcap"
        let expected = capturesDirectory + "/mixed.json"
        let result = run(["python3", fixturesDirectory + "/make_mixed.py", pcap, expected, "--packets", "3000"])
        guard result.status == 0, let text = readFile(expected),
            let json = try? JSON.parse(String(decoding: text, as: UTF8.self))
        else {
            print("make_mixed.py failed (\(result.status)): \(result.stderr)")
            return nil
        }
        return (pcap, json)
    }()

    /// Ethernet files of the tcpdump corpus that together hold TCP, UDP,
    /// ICMP, ICMPv6 (with an IPv6 routing header), VLAN tags and Ethernet
    /// padding (bytes after the IP datagram, which are no IP octets). No
    /// single corpus file has all of them.
    static let corpusFiles = [
        "bgp-4byte-asn.pcap",  // TCP (BGP), 91 frames
        "eapon1.pcap",  // UDP and EAPOL (not IP)
        "dhcpv4v6-rfc5970-rfc8572.pcap",  // DHCP over IPv4 and IPv6
        "icmp-rfc8335.pcap",  // ICMP extended echo (types 42/43: not echo, keyed by type and code)
        "ipv6-routing-header.pcap",  // UDP and ICMPv6 behind a routing header
        "ipv4_tcp_http_xml.pcap",  // TCP on VLAN
        "bgp-evpn.pcap",  // TCP on VLAN
        "ripv2-invalid-length.pcap",  // UDP on VLAN
        "vxlan.pcap",  // UDP (VXLAN), not decapsulated
        "dns_tcp.pcap",  // DNS over TCP, short frames padded to Ethernet's minimum
        "whois.pcap",  // TCP, padded frames
        "bfd-raw-auth-sha1.pcap",  // UDP (BFD), every frame padded
    ]

    /// The corpus files above, frames unchanged, in one pcap on one clock (a
    /// millisecond apart), so that no flow of one file idles out on the
    /// years between the files' own timestamps; built once.
    static let corpusMix: String? = {
        var writer = PcapWriter(linkType: 1)
        var i: UInt32 = 0
        for name in corpusFiles {
            guard let read = libpcapFrames(packageRoot + "/Tests/Corpus/tcpdump/" + name), read.linkType == 1 else {
                print("cannot read \(name) as Ethernet")
                return nil
            }
            for f in read.frames {
                writer.record(
                    f.data, seconds: 1_750_000_000 + i / 1000, fraction: (i % 1000) * 1000,
                    caplen: UInt32(f.data.count), wirelen: UInt32(f.wirelen))
                i += 1
            }
        }
        let path = capturesDirectory + "/corpus-mix.pcap"
        writeFile(path, writer.bytes)
        return path
    }()

    /// `flows` UDP flows with one datagram each way (10.A.B.C:port ⇄
    /// 192.168.0.1:53), 10 µs apart: a classic pcap, and the IP-layer
    /// octets of all its frames. Written byte by byte into one buffer (a
    /// debug build is slow to append small arrays).
    static func bidirectionalUDP(flows: Int) -> (bytes: [UInt8], octets: UInt64) {
        let header = PcapWriter(linkType: 1).bytes
        let template = Frames.udp4(payload: 0)  // Ethernet, IPv4 (no checksum), UDP
        let frameLength = { (payload: Int) in template.count + payload }
        var total = header.count
        for f in 0..<flows { total += 32 + frameLength(18 + f % 7) + frameLength(40 + f % 5) }
        var out = [UInt8](repeating: 0xAB, count: total)
        var octets: UInt64 = 0
        out.withUnsafeMutableBufferPointer { b in
            for i in 0..<header.count { b[i] = header[i] }
            var at = header.count
            var t = 0
            func put16(_ v: Int, _ p: Int) {
                b[p] = UInt8((v >> 8) & 0xFF)
                b[p + 1] = UInt8(v & 0xFF)
            }
            func put32le(_ v: Int, _ p: Int) {
                for k in 0..<4 { b[p + k] = UInt8((v >> (8 * k)) & 0xFF) }
            }
            for f in 0..<flows {
                let client = [10, (f >> 16) & 0xFF, (f >> 8) & 0xFF, f & 0xFF]
                let port = 1024 + f % 60_000
                for (request, payload) in [(true, 18 + f % 7), (false, 40 + f % 5)] {
                    let length = frameLength(payload)
                    put32le(1_700_000_000 + t / 100_000, at)
                    put32le((t % 100_000) * 10, at + 4)
                    put32le(length, at + 8)
                    put32le(length, at + 12)
                    let p = at + 16
                    for i in 0..<template.count { b[p + i] = template[i] }
                    put16(28 + payload, p + 16)  // IP total length
                    let (src, dst) = request ? (client, [192, 168, 0, 1]) : ([192, 168, 0, 1], client)
                    for i in 0..<4 {
                        b[p + 26 + i] = UInt8(src[i])
                        b[p + 30 + i] = UInt8(dst[i])
                    }
                    put16(request ? port : 53, p + 34)
                    put16(request ? 53 : port, p + 36)
                    put16(8 + payload, p + 38)  // UDP length
                    octets += UInt64(28 + payload)
                    at = p + length
                    t += 1
                }
            }
        }
        return (out, octets)
    }
}

// MARK: A collector of the test's own

/// A UDP socket on 127.0.0.1 (a port the kernel picks) with a large
/// receive buffer, read after the exporter has finished: every datagram it
/// got, in order, and what its queue dropped.
final class UDPListener {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        // Root may go past rmem_max: room for every message of a test.
        var size: Int32 = 64 << 20
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = IPFIXTestSystem.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(fd)
            throw TestFailure("bind: \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    var address: String { "127.0.0.1:\(port)" }

    /// The datagrams queued now, in order (without waiting).
    func receiveAll() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 { break }
            out.append(Array(buffer[0..<n]))
        }
        return out
    }

    /// Datagrams the socket's queue dropped (/proc/net/udp).
    var drops: UInt64? { IPFIXTestSystem.udpQueue(port: port)?.drops }

    deinit { close(fd) }
}

// MARK: Flows as collectors see them

/// One uniflow record as nfdump shows it: addresses (canonical text), IP
/// protocol, ports or (ICMP) type and code, and the VLAN id. nfdump shows
/// the ICMP type and code in the destination port, as type * 256 + code
/// (`ICMP = 8.0`), whichever element carried them.
struct Uniflow: Hashable, Comparable, CustomStringConvertible {
    var proto: UInt8
    var source: String
    var destination: String
    var sourcePort: UInt16
    /// ICMP and ICMPv6: type << 8 | code.
    var destinationPort: UInt16
    var vlan: UInt16

    var isICMP: Bool { proto == 1 || proto == 58 }

    var description: String {
        let ports =
            isICMP ? "icmp \(destinationPort >> 8).\(destinationPort & 0xFF)" : "\(sourcePort)>\(destinationPort)"
        return "p\(proto) \(source)>\(destination) \(ports)" + (vlan != 0 ? " vlan \(vlan)" : "")
    }

    static func < (a: Uniflow, b: Uniflow) -> Bool { a.description < b.description }

    init(proto: UInt8, source: String, destination: String, sourcePort: UInt16, destinationPort: UInt16, vlan: UInt16) {
        self.proto = proto
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.vlan = vlan
    }

    /// The record's key; nil when nfdump printed something unexpected.
    init?(_ f: NfdumpFlow) {
        guard let proto = f.word("proto").flatMap({ UInt8($0) }), let src = f.fields["src addr"],
            let dst = f.fields["dst addr"], let source = canonicalAddress(src),
            let destination = canonicalAddress(dst)
        else { return nil }
        self.proto = proto
        self.source = source
        self.destination = destination
        vlan = UInt16(f.number("src vlan") ?? 0)
        if let icmp = f.word("ICMP") {
            let parts = icmp.split(separator: ".")
            guard parts.count == 2, let type = UInt16(parts[0]), let code = UInt16(parts[1]) else { return nil }
            sourcePort = 0
            destinationPort = type << 8 | code
        } else {
            sourcePort = UInt16(f.number("src port") ?? 0)
            destinationPort = UInt16(f.number("dst port") ?? 0)
        }
    }
}

/// Packets, octets, records and TCP flags summed over records.
struct Counts: Equatable, CustomStringConvertible {
    var packets: UInt64 = 0
    var octets: UInt64 = 0
    var records = 0
    var tcpFlags: UInt8 = 0

    var description: String { "\(packets) pkts \(octets) octets in \(records) records, flags 0x\(hex(tcpFlags))" }

    mutating func add(_ f: NfdumpFlow) {
        packets += f.number("in packets") ?? 0
        octets += f.number("in bytes") ?? 0
        records += 1
        tcpFlags |= f.word("tcp flags").flatMap { UInt8($0.dropFirst(2), radix: 16) } ?? 0
    }
}

/// nfdump's records summed by uniflow key.
func byUniflow(_ flows: [NfdumpFlow]) -> [Uniflow: Counts] {
    var out: [Uniflow: Counts] = [:]
    for f in flows {
        guard let key = Uniflow(f) else {
            Issue.record("nfdump record without a key: \(f)")
            continue
        }
        out[key, default: Counts()].add(f)
    }
    return out
}

/// An address as inet_ntop writes it (nil if it is not one).
func canonicalAddress(_ text: String) -> String? {
    var bytes = [UInt8](repeating: 0, count: 16)
    let family = text.contains(":") ? AF_INET6 : AF_INET
    guard inet_pton(family, text, &bytes) == 1 else { return nil }
    return addressText(bytes[0..<(family == AF_INET6 ? 16 : 4)])
}

/// 4 or 16 bytes as inet_ntop writes them.
func addressText(_ bytes: ArraySlice<UInt8>) -> String {
    var out = [CChar](repeating: 0, count: 64)
    let family = bytes.count == 16 ? AF_INET6 : AF_INET
    _ = Array(bytes).withUnsafeBytes { inet_ntop(family, $0.baseAddress, &out, socklen_t(out.count)) }
    return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func hex(_ v: UInt8) -> String {
    let s = String(v, radix: 16)
    return s.count < 2 ? "0" + s : s
}

/// Runs `body` with an nfcapd collector, then drains and stops it: the
/// records it stored (unless `records` is false), its `nfdump -I` figures
/// and its log. Checks on the way
/// that nothing was lost: nfcapd's own socket dropped nothing (its drops
/// column in /proc/net/udp; the host's RcvbufErrors would count other
/// tests' datagrams too).
func withNfcapd<T>(
    records: Bool = true, sourceLocation: SourceLocation = #_sourceLocation, _ body: (NfcapdCollector) throws -> T
) throws -> (value: T, flows: [NfdumpFlow], info: [String: UInt64], log: String) {
    let collector = try NfcapdCollector()
    let value = try body(collector)
    let socketDrops = collector.waitUntilDrained()
    #expect(
        socketDrops == 0, "nfcapd's socket: \(socketDrops.map { "\($0) drops" } ?? "not drained in time")",
        sourceLocation: sourceLocation)
    let status = collector.stop()
    #expect(status == 0, "nfcapd exited \(status): \(collector.process.stderr)", sourceLocation: sourceLocation)
    let files = collector.files
    // One file, or two when the hour turned (-t 3600 rotates on the hour).
    #expect(!files.isEmpty, "nfcapd files: \(IPFIXTestSystem.list(collector.directory))")
    return (value, records ? try Nfdump.flows(files) : [], try Nfdump.info(files), collector.process.stderr)
}

/// What Labyrinth should meter, frame by frame (``MeteredFrame``): per
/// uniflow key the packets and the IP-layer octets (IP total length, IPv6
/// 40 + payload length) of an Ethernet capture.
func perFrame(_ frames: [LibpcapFrame]) -> [Uniflow: Counts] {
    var out: [Uniflow: Counts] = [:]
    for f in frames {
        guard let metered = MeteredFrame(f).labyrinth() else { continue }
        out[metered.key, default: Counts()].packets += 1
        out[metered.key, default: Counts()].octets += metered.octets
    }
    return out
}

/// Per uniflow key, the same packets and octets.
func expectSame(
    _ measured: [Uniflow: Counts], _ predicted: [Uniflow: Counts], _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var problems: [String] = []
    for key in Set(measured.keys).union(predicted.keys).sorted() {
        let m = measured[key]
        let p = predicted[key]
        if m?.packets != p?.packets || m?.octets != p?.octets {
            problems.append(
                "\(key): stored \(m.map { "\($0.packets)/\($0.octets)" } ?? "none"), per frame \(p.map { "\($0.packets)/\($0.octets)" } ?? "none")"
            )
        }
    }
    #expect(
        problems.isEmpty, "\(what): \(problems.count) keys differ:\n\(problems.prefix(20).joined(separator: "\n"))",
        sourceLocation: sourceLocation)
}

// MARK: IPFIX streams

/// Checks one collector's stream: every message decodes (RFC 7011 framing,
/// templates before data), and each message's sequence number is the number
/// of data records (flow and options records) sent before it in its
/// observation domain. Returns the decoded messages.
func decodeStream(_ datagrams: [[UInt8]], sourceLocation: SourceLocation = #_sourceLocation) throws
    -> [IPFIXTestDecoder.Message]
{
    var decoder = IPFIXTestDecoder()
    var sent: [UInt32: UInt32] = [:]
    var out: [IPFIXTestDecoder.Message] = []
    var wrong = 0
    for (i, d) in datagrams.enumerated() {
        let m = try decoder.decode(d)
        let expected = sent[m.header.domain] ?? 0
        if m.header.sequence != expected {
            wrong += 1
            if wrong <= 5 {
                Issue.record(
                    "message \(i) (domain \(m.header.domain)): sequence \(m.header.sequence), \(expected) data records sent before it",
                    sourceLocation: sourceLocation)
            }
        }
        sent[m.header.domain] = expected &+ UInt32(m.records.count)
        out.append(m)
    }
    #expect(wrong == 0, "\(wrong) of \(datagrams.count) messages with a wrong sequence number")
    return out
}

/// The flow records (templates 256 and 257) of decoded messages as uniflow keys with their counts.
func flowRecords(_ messages: [IPFIXTestDecoder.Message]) -> [Uniflow: Counts] {
    var out: [Uniflow: Counts] = [:]
    for m in messages {
        for r in m.records where r.templateID == 256 || r.templateID == 257 {
            let v6 = r.templateID == 257
            guard let src = r.bytes(v6 ? 27 : 8), let dst = r.bytes(v6 ? 28 : 12), let proto = r.value(4) else {
                Issue.record("a flow record without addresses or protocol")
                continue
            }
            let icmp = r.value(v6 ? 139 : 32) ?? 0
            let isICMP = proto == 1 || proto == 58
            let key = Uniflow(
                proto: UInt8(proto), source: addressText(src[...]), destination: addressText(dst[...]),
                sourcePort: UInt16(r.value(7) ?? 0), destinationPort: isICMP ? UInt16(icmp) : UInt16(r.value(11) ?? 0),
                vlan: UInt16(r.value(58) ?? 0))
            var c = out[key, default: Counts()]
            c.packets += r.value(2) ?? 0
            c.octets += r.value(1) ?? 0
            c.records += 1
            c.tcpFlags |= UInt8(truncatingIfNeeded: r.value(6) ?? 0)
            out[key] = c
        }
    }
    return out
}
