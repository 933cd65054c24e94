import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Tagged traffic over a veth pair: Linux takes the outer VLAN tag out of
/// every received frame into the socket buffer's metadata (in the driver
/// with rx VLAN offload on, in the core receive path with it off), and a
/// capture must put it back: libpcap does for the pcap backend, PACKET_AUXDATA
/// does for the uring backend. Every count, `vlan` included, must equal the
/// independent count of the sent capture (Tests/Fixtures/make_vlan.py).
@Suite("VLAN tags on live capture", .serialized)
struct VLANTests {
    static let generated: (pcap: String, expected: JSON)? = {
        let directory = temporaryDirectory("labyrinth-vlan")
        let pcap = directory + "/vlan.pcap"
        let expected = directory + "/vlan.json"
        let result = run(["python3", fixturesDirectory + "/make_vlan.py", pcap, expected])
        guard result.status == 0, let text = readFile(expected),
            let json = try? JSON.parse(String(decoding: text, as: UTF8.self))
        else {
            print("make_vlan.py failed (\(result.status)): \(result.stderr)")
            return nil
        }
        return (pcap, json)
    }()

    static let cases: [(String, Bool)] = [
        ("pcap", true), ("pcap", false), ("tpacket", true), ("tpacket", false), ("uring", true), ("uring", false),
    ]

    @Test("802.1Q, QinQ and 0x9100 stacks of every size: the tags come back, every count exact", arguments: cases)
    func tags(backend: String, offload: Bool) throws {
        let (pcap, expected) = try #require(Self.generated, "make_vlan.py needs python3 with scapy")
        let network = try TestNetwork()
        // veth passes at most MTU + 18 bytes: full-size QinQ frames need more.
        for end in [network.sender, network.receiver] {
            let r = run(network.command(["ip", "link", "set", end, "mtu", "9000"]))
            try #require(r.status == 0, "\(r.stderr)")
        }
        if !offload {
            let rx = run(network.command(["ethtool", "-K", network.receiver, "rxvlan", "off"]))
            let tx = run(network.command(["ethtool", "-K", network.sender, "txvlan", "off"]))
            try #require(rx.status == 0 && tx.status == 0, "ethtool: \(rx.stderr) \(tx.stderr)")
        }
        let frames = try #require(expected["packets"]?.intValue)
        let child = try ChildProcess(
            network.command([
                executable("labyrinthd"), "capture", "-i", network.receiver, "--backend", backend, "--lock", "off",
                "--immediate", "--workers", "1", "--count", String(frames), "--duration", "40", "--json",
            ]))
        guard child.waitForError(containing: "capturing on", timeoutSeconds: 20) else {
            throw TestNetwork.SetupError("capture did not start: \(child.stderr)")
        }
        let sent = network.send(pcap, pps: 2000)
        #expect(sent.status == 0, "tcpreplay: \(sent.stderr)")
        let status = child.wait(timeoutSeconds: 60)
        #expect(status == 0, "\(child.stderr)")
        let report = try JSON.parse(child.stdout)
        let what = "\(backend), VLAN offload \(offload ? "on" : "off")"
        #expect(report["received"]?.intValue == frames, "\(what)")
        #expect(report["bytes"] == expected["bytes"], "\(what)")
        for key in ["vlan", "ipv4", "ipv6", "udp", "tcp", "arp", "other"] {
            #expect(report["decoded"]?[key] == expected["decoded"]?[key], "\(what): \(key)")
        }
        #expect(report["truncated"]?.intValue == 0, "\(what)")
        #expect(report["malformed"].map { m in m == JSONCoding.encode(MalformedCounts()) } == true, "\(what)")
        #expect(report["kernel"]?["drops"]?.intValue == 0)
        if backend == "uring" {
            // The kernel took the outer tag of every 802.1Q and 802.1ad
            // frame (0x9100 is not a TPID it knows) and PACKET_AUXDATA gave
            // each back.
            let fromMetadata = (report["workers"]?.arrayValue ?? []).compactMap { $0["vlan_from_metadata"]?.intValue }
                .reduce(0, +)
            #expect(fromMetadata == expected["kernel_tags"]?.intValue, "\(what)")
        }
    }
}
