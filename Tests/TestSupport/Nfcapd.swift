#if canImport(Glibc)
import Glibc
#endif

/// An nfcapd (nfdump 1.7.1) listening on 127.0.0.1, writing into its own
/// directory; stopped with SIGTERM, which completes its file.
public final class NfcapdCollector {
    public let directory: String
    public let port: UInt16
    public let process: IPFIXTestProcess
    public private(set) var stopped = false

    /// Starts nfcapd on a free port with a large receive buffer (`-B`), and
    /// waits (polling) until its socket is bound.
    public init() throws {
        directory = temporaryDirectory("ipfix-nfcapd")
        var lastError = ""
        // The port was free a moment ago; another process may take it first, so try a few.
        for _ in 0..<5 {
            let port = try IPFIXTestSystem.freePort()
            let child = try IPFIXTestProcess([
                "nfcapd", "-b", "127.0.0.1", "-p", String(port), "-w", directory, "-B", "8388608", "-t", "3600",
            ])
            let deadline = monotonicSeconds() + 15
            while monotonicSeconds() < deadline && child.poll() == nil && !IPFIXTestSystem.udpBound(port: port) {
                usleep(10_000)
            }
            if child.poll() == nil && IPFIXTestSystem.udpBound(port: port) {
                self.port = port
                process = child
                return
            }
            lastError = "nfcapd on port \(port): exit \(child.poll().map(String.init) ?? "none"): \(child.stderr)"
            _ = child.stop(SIGKILL, timeoutSeconds: 10)
        }
        IPFIXTestSystem.removeDirectory(directory)
        throw IPFIXTestSystem.Failure("nfcapd did not bind: \(lastError)")
    }

    /// `127.0.0.1:PORT`, for `--ipfix`.
    public var address: String { "127.0.0.1:\(port)" }

    /// Waits until nfcapd has read every datagram and is blocked in recvfrom again, so it has
    /// also processed them (it drops a datagram it received when SIGTERM comes before it is
    /// processed). Polls with a deadline.
    /// - Returns: the socket's drop count, or nil when the deadline passed.
    public func waitUntilDrained(timeoutSeconds: Double = 30) -> UInt64? {
        let deadline = monotonicSeconds() + timeoutSeconds
        var quietPolls = 0
        while monotonicSeconds() < deadline && process.poll() == nil {
            let queue = IPFIXTestSystem.udpQueue(port: port)
            let blocked = IPFIXTestSystem.blockedSyscall(process.pid) == IPFIXTestSystem.recvfromSyscall
            quietPolls = queue?.queued == 0 && blocked ? quietPolls + 1 : 0
            if quietPolls >= 3, let queue { return queue.drops }
            usleep(5_000)
        }
        return nil
    }

    /// SIGTERM, and waits for the exit that completes the file.
    /// - Returns: the exit status.
    public func stop() -> Int32 {
        stopped = true
        return process.stop(SIGTERM, timeoutSeconds: 30)
    }

    /// The completed files (not the one being written).
    public var files: [String] {
        IPFIXTestSystem.list(directory).filter { $0.hasPrefix("nfcapd.") && !$0.hasPrefix("nfcapd.current") }
            .map { directory + "/" + $0 }
    }

    deinit {
        if !stopped { _ = stop() }
        IPFIXTestSystem.removeDirectory(directory)
    }
}

/// One flow as `nfdump -o raw` prints it.
public struct NfdumpFlow: CustomStringConvertible, Sendable {
    public var fields: [String: String] = [:]

    public init() {}

    /// The field's leading number (`in packets = 12` → 12).
    public func number(_ key: String) -> UInt64? {
        fields[key].flatMap { UInt64($0.split(separator: " ").first ?? "") }
    }

    /// The field's first word (`proto = 6 TCP` → "6").
    public func word(_ key: String) -> String? { fields[key]?.split(separator: " ").first.map(String.init) }

    public var description: String {
        fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

/// Reading nfcapd's files back with nfdump.
public enum Nfdump {
    /// Parses `nfdump -o raw`: a block per flow, lines `  key = value`.
    public static func parseRaw(_ text: String) -> [NfdumpFlow] {
        var flows: [NfdumpFlow] = []
        var current: NfdumpFlow?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("Flow Record:") {
                if let c = current { flows.append(c) }
                current = NfdumpFlow()
                continue
            }
            guard current != nil, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].split(separator: " ").joined(separator: " ")
            let value = line[line.index(after: eq)...].split(separator: " ").joined(separator: " ")
            if current!.fields[key] == nil { current!.fields[key] = value }
        }
        if let c = current { flows.append(c) }
        return flows
    }

    /// Every flow record of `files` (`nfdump -r FILE -q -o raw`).
    public static func flows(_ files: [String]) throws -> [NfdumpFlow] {
        var out: [NfdumpFlow] = []
        for file in files {
            let raw = run(["nfdump", "-r", file, "-q", "-o", "raw"], timeoutSeconds: 120)
            guard raw.status == 0 else { throw IPFIXTestSystem.Failure("nfdump -o raw \(file): \(raw.stderr)") }
            out += parseRaw(raw.stdout)
        }
        return out
    }

    /// `nfdump -I` over `files`, summed: `Flows`, `Packets`, `Bytes`, `Sequence failures`… by name.
    public static func info(_ files: [String]) throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for file in files {
            let info = run(["nfdump", "-I", "-r", file], timeoutSeconds: 60)
            guard info.status == 0 else { throw IPFIXTestSystem.Failure("nfdump -I \(file): \(info.stderr)") }
            for line in info.stdout.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, let v = UInt64(parts[1].split(separator: " ").joined()) else { continue }
                let name = parts[0].split(separator: " ").joined(separator: " ")
                // First and Last are times: summing them means nothing, keep the first file's.
                if name == "First" || name == "Last" || name.hasPrefix("msec") {
                    if out[name] == nil { out[name] = v }
                } else {
                    out[name, default: 0] += v
                }
            }
        }
        return out
    }
}
