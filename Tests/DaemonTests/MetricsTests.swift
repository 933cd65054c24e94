import ControlPlane
import StatsProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `[metrics]`: the HTTP endpoint against a real Prometheus server, promtool,
/// the OpenMetrics reference parser and hostile clients. Serialized: each
/// test runs its own daemon on ports of its own.
@Suite("Metrics over HTTP", .serialized)
struct MetricsTests {
    static let client = fixturesDirectory + "/metrics_client.py"

    /// A daemon with the endpoint on, a recording (for the write latency
    /// histogram) and an IPFIX collector that nobody runs (for the export
    /// families), as the dashboard expects.
    static func daemon(port: Int, workers: Int = 2, metrics: String = "") throws -> (DaemonProcess, String) {
        let recordings = temporaryDirectory("metrics-rec")
        let daemon = try DaemonProcess(
            workers: workers, pagesPerRoom: 2048,
            more: """

                [metrics]
                listen = "127.0.0.1:\(port)"
                \(metrics)

                [ipfix]
                collectors = ["127.0.0.1:\(freePort(udp: true))"]

                [[sink]]
                path = "\(recordings)/metrics.pcapng"
                """)
        return (daemon, recordings)
    }

    static func get(_ port: Int, _ path: String = "/metrics", accept: String = "", method: String = "GET") -> (
        status: String, head: String, body: String
    ) {
        let r = run(["python3", client, "get", "\(port)", path, accept, method], timeoutSeconds: 60)
        let (head, body) = r.stdout.split(separator: "\n\n", maxSplits: 1, omittingEmptySubsequences: false)
            .map(String.init).pairOrEmpty
        return (String(head.split(separator: "\r\n").first ?? ""), head, body)
    }

    /// Replays the bundled capture and waits for the job.
    static func replay(_ daemon: DaemonProcess) throws -> Int {
        let job = try waitForJob(
            daemon, try daemon.ask(["command": "replay", "file": .string(packageRoot + "/captures/loopback.pcap")]))
        return job["packets"]?.intValue ?? -1
    }

    /// Samples of the text exposition: `name{labels}` → value.
    static func samples(_ text: String) -> [(name: String, labels: String, value: Double)] {
        text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " ") else { return nil }
            let series = line[..<space]
            let value = Double(line[line.index(after: space)...]) ?? .nan
            if let brace = series.firstIndex(of: "{") {
                return (String(series[..<brace]), String(series[brace...]), value)
            }
            return (String(series), "", value)
        }
    }

    @Test("a real Prometheus scrapes it: the server's sum of received frames equals stats, the target is up")
    func prometheusScrapes() throws {
        #expect(access("/usr/bin/prometheus", X_OK) == 0, "prometheus is missing: apt-get install prometheus")
        let port = freePort()
        let (daemon, _) = try Self.daemon(port: port)
        defer { _ = daemon.stop() }
        let received = try Self.replay(daemon)
        #expect(received == 837)
        let stats = try daemon.ask(["command": "stats"])
        #expect(stats["received"]?.intValue == received)

        let dir = temporaryDirectory("prometheus")
        writeFile(
            dir + "/prometheus.yml",
            Array(
                """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                scrape_configs:
                  - job_name: labyrinth
                    static_configs:
                      - targets: ["127.0.0.1:\(port)"]
                """.utf8))
        let web = freePort()
        let server = try BackgroundProcess([
            "/usr/bin/prometheus", "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
            "--web.listen-address=127.0.0.1:\(web)",
        ])
        defer { server.stop() }
        func query(_ q: String) -> String {
            run(["curl", "-s", "--max-time", "5", "http://127.0.0.1:\(web)/api/v1/\(q)"], timeoutSeconds: 10).stdout
        }
        // The query's value, as the API prints it: ["<time>","837"].
        let expected = "\"\(received)\"]"
        let agreed = eventually(within: 60) {
            query("query?query=sum(labyrinth_packets_received_total)").contains(expected)
        }
        #expect(
            agreed,
            "Prometheus never saw \(received): \(query("query?query=sum(labyrinth_packets_received_total)"))\n\(server.outputText.suffix(2000))"
        )
        let targets = query("targets")
        #expect(targets.contains("\"health\":\"up\""), "\(targets)")
        // It scraped OpenMetrics (Prometheus asks for it first), and took
        // the histograms whole.
        #expect(targets.contains("127.0.0.1:\(port)"))
        let count = query("query?query=sum(labyrinth_worker_poll_frames_sum)")
        #expect(count.contains(expected), "\(count)")
    }

    @Test(
        "both formats: promtool checks the text, the reference parser the OpenMetrics; one source for socket and HTTP")
    func formats() throws {
        let port = freePort()
        let (daemon, _) = try Self.daemon(port: port)
        defer { _ = daemon.stop() }
        _ = try Self.replay(daemon)
        let text = Self.get(port)
        #expect(text.status == "HTTP/1.1 200 OK")
        #expect(text.head.contains("Content-Type: text/plain; version=0.0.4"))
        let dir = temporaryDirectory("metrics-format")
        writeFile(dir + "/text", Array(text.body.utf8))
        let lint = run(["sh", "-c", "promtool check metrics < \(dir)/text"])
        #expect(lint.status == 0, "\(lint.stdout)\(lint.stderr)")

        let om = Self.get(port, accept: "application/openmetrics-text; version=1.0.0")
        #expect(om.head.contains("Content-Type: application/openmetrics-text; version=1.0.0"))
        #expect(om.body.hasSuffix("# EOF\n"))
        #expect(om.body.contains("# TYPE labyrinth_packets_received counter\n"))
        #expect(!text.body.contains("# EOF"))
        // Every family of the tables is there (this daemon records and has taps).
        for name in Exposition.workerFamilies.map(\.name) + Exposition.roomFamilies.map(\.name) {
            #expect(text.body.contains("# TYPE \(name) "), "\(name) is missing")
        }
        let parsed = run(["python3", Self.client, "openmetrics", "\(port)"])
        #expect(parsed.status == 0 && parsed.stdout.hasPrefix("families "), "\(parsed.stdout)\(parsed.stderr)")

        // The same series as `labyrinthctl prometheus` (uptime aside).
        let socket = try daemon.ask(["command": "prometheus"]).stringValue ?? ""
        func series(_ t: String) -> Set<String> {
            Set(Self.samples(t).filter { $0.name != "labyrinth_uptime_seconds" }.map { $0.name + $0.labels })
        }
        #expect(!series(socket).isEmpty && series(socket) == series(text.body))

        // HEAD, 404, 405.
        let head = Self.get(port, method: "HEAD")
        #expect(head.status == "HTTP/1.1 200 OK" && head.body.isEmpty)
        #expect(Self.get(port, "/").status == "HTTP/1.1 404 Not Found")
        #expect(Self.get(port, "/metrics/x").status == "HTTP/1.1 404 Not Found")
        let delete = Self.get(port, method: "DELETE")
        #expect(delete.status == "HTTP/1.1 405 Method Not Allowed" && delete.head.contains("Allow: GET, HEAD"))
        // `config` shows the address.
        let config = try daemon.ask(["command": "config"])
        #expect(config["metrics"]?["url"]?.stringValue == "http://127.0.0.1:\(port)/metrics")
    }

    @Test("the histograms: frames per poll add up to the frames, write latencies to the writes, buckets to _count")
    func histograms() throws {
        let port = freePort()
        let (daemon, _) = try Self.daemon(port: port)
        defer { _ = daemon.stop() }
        var scrapes: [String] = []
        // Scraped while replays run (under TSan: the reader against the
        // workers' stores), then once everything is still.
        let jobs = try (0..<4).map { _ in
            try daemon.ask(["command": "replay", "file": .string(packageRoot + "/captures/loopback.pcap")])
        }
        for _ in 0..<10 { scrapes.append(Self.get(port).body) }
        for job in jobs { _ = try waitForJob(daemon, job) }
        let workers = try daemon.ask(["command": "workers"]).arrayValue ?? []
        // Writes complete at the recording's flush: wait for the last.
        var last = ""
        let settled = eventually(within: 20) {
            last = Self.get(port).body
            let s = Self.samples(last)
            let writes = workers.indices.map { i in
                s.first {
                    $0.name == "labyrinth_recording_write_latency_seconds_count" && $0.labels == "{worker=\"\(i)\"}"
                }?
                .value ?? -1
            }
            return zip(writes, workers).allSatisfy { $0.0 > 0 && $0.0 == Double($0.1["writes"]?.intValue ?? -2) }
        }
        scrapes.append(last)
        #expect(settled, "write completions never matched the writes: \(workers)")
        let final = Self.samples(last)
        for (i, w) in workers.enumerated() {
            let labels = "{worker=\"\(i)\"}"
            let frames = final.first { $0.name == "labyrinth_worker_poll_frames_sum" && $0.labels == labels }?.value
            let polls = final.first { $0.name == "labyrinth_worker_poll_frames_count" && $0.labels == labels }?.value
            #expect(frames == Double(w["received"]?.intValue ?? -1), "worker \(i)")
            #expect(polls == Double(w["polls"]?.intValue ?? -1), "worker \(i)")
        }
        #expect(final.contains { $0.name == "labyrinth_worker_poll_frames_sum" && $0.value > 0 })
        // In every scrape, each worker's buckets rise to +Inf, which is _count.
        for text in scrapes {
            let s = Self.samples(text)
            for name in ["labyrinth_worker_poll_frames", "labyrinth_recording_write_latency_seconds"] {
                for i in workers.indices {
                    let buckets = s.filter { $0.name == name + "_bucket" && $0.labels.hasPrefix("{worker=\"\(i)\",") }
                    #expect(buckets.count == 13)
                    #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0.0.value <= $0.1.value })
                    #expect(buckets.last?.labels.contains("le=\"+Inf\"") == true)
                    let count = s.first { $0.name == name + "_count" && $0.labels == "{worker=\"\(i)\"}" }?.value
                    #expect(buckets.last?.value == count)
                }
            }
        }
    }

    @Test("hostile HTTP clients get a status or a close, and replays stay exact meanwhile")
    func hostileClients() throws {
        raiseFileLimit()
        let port = freePort()
        let (daemon, _) = try Self.daemon(port: port, metrics: "request_timeout = 2\nmax_connections = 64")
        defer { _ = daemon.stop() }
        let jobs = try (0..<12).map { _ in
            try daemon.ask(["command": "replay", "file": .string(packageRoot + "/captures/loopback.pcap")])
        }
        let attack = run(["python3", Self.client, "hostile", "\(port)", "2000"], timeoutSeconds: 240)
        let results = Dictionary(
            attack.stdout.split(separator: "\n").compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), String(line[line.index(colon, offsetBy: 2)...]))
            }, uniquingKeysWith: { a, _ in a })
        #expect(results["long_line"] == "HTTP/1.1 413 Payload Too Large", "\(attack.stdout)\(attack.stderr)")
        #expect(results["endless_headers"] == "HTTP/1.1 413 Payload Too Large")
        #expect(results["scrape_among_idle"] == "HTTP/1.1 200 OK")
        #expect(results["slowloris"] == "HTTP/1.1 408 Request Timeout")
        #expect(results["post"] == "HTTP/1.1 405 Method Not Allowed")
        #expect(results["dotdot"] == "HTTP/1.1 404 Not Found")
        #expect(results["after"] == "HTTP/1.1 200 OK")
        for job in jobs { #expect(try waitForJob(daemon, job)["packets"]?.intValue == 837) }
        let stats = try daemon.ask(["command": "stats"])
        #expect(stats["received"]?.intValue == 837 * jobs.count)
        #expect(daemon.isRunning)
        // The endpoint counts what it did: five requests refused (413, 413,
        // 408, 405, 404), idle connections closed to make room for new ones.
        let after = Self.samples(Self.get(port).body)
        func value(_ name: String, _ labels: String) -> Double {
            after.first { $0.name == name && $0.labels == labels }?.value ?? -1
        }
        #expect(value("labyrinth_metrics_http_requests_total", "{result=\"refused\"}") >= 5)
        #expect(value("labyrinth_metrics_http_requests_total", "{result=\"answered\"}") >= 2)
        #expect(value("labyrinth_metrics_http_connections_total", "{result=\"evicted\"}") >= 1000)
        #expect(value("labyrinth_metrics_http_connections_open", "") >= 1)
    }

    @Test("one address holding every slot with partial requests cannot blind a scraper: 20 of 20 scrapes get 200")
    func oneAddressCannotBlind() throws {
        raiseFileLimit()
        let port = freePort()
        let (daemon, _) = try Self.daemon(port: port, metrics: "request_timeout = 1\nmax_connections = 64")
        defer { _ = daemon.stop() }
        let attack = run(["python3", Self.client, "blind", "\(port)", "64", "20"], timeoutSeconds: 120)
        #expect(attack.stdout.contains("probes: 20/20 200"), "\(attack.stdout)\(attack.stderr)")
        let after = Self.samples(Self.get(port).body)
        let evicted =
            after.first {
                $0.name == "labyrinth_metrics_http_connections_total" && $0.labels == "{result=\"evicted\"}"
            }?.value ?? -1
        // The attacker's own partial requests made room: its first
        // connections past its per-peer share (16 of 64), and one per scrape.
        #expect(evicted >= 48 + 20, "\(attack.stdout)")
        #expect(daemon.isRunning)
    }

    @Test("metrics.allow: any other peer gets 403")
    func allowList() throws {
        let port = freePort()
        let (daemon, _) = try Self.daemon(port: port, workers: 1, metrics: "allow = [\"127.0.0.2\"]")
        defer { _ = daemon.stop() }
        let refused = Self.get(port)
        #expect(refused.status == "HTTP/1.1 403 Forbidden", "\(refused)")
        #expect(refused.body.contains("127.0.0.1 is not in metrics.allow"))
    }

    @Test("bad [metrics] settings name their key; a changed listen is refused on reload, by name")
    func configuration() throws {
        for (line, key) in [
            ("listen = \"localhost:9469\"", "metrics.listen"), ("listen = \"127.0.0.1\"", "metrics.listen"),
            ("listen = \"127.0.0.1:0\"", "metrics.listen"), ("allow = [\"example.org\"]", "metrics.allow"),
            ("max_connections = 0", "metrics.max_connections"), ("lisen = \"127.0.0.1:1\"", "metrics.lisen"),
        ] {
            let dir = temporaryDirectory("metrics-config")
            writeFile(dir + "/c.toml", Array("[metrics]\n\(line)\n".utf8))
            let r = run([executable("labyrinthd"), "run", "--config", dir + "/c.toml"], timeoutSeconds: 30)
            #expect(r.status == 78, "\(line): \(r.status)")
            #expect(r.stderr.contains(key), "\(line): \(r.stderr)")
        }
        let port = freePort()
        let (daemon, _) = try Self.daemon(port: port, workers: 1)
        defer { _ = daemon.stop() }
        let text = String(decoding: readFile(daemon.configPath) ?? [], as: UTF8.self)
        writeFile(
            daemon.configPath,
            Array(
                text.replacingFirst("listen = \"127.0.0.1:\(port)\"", with: "listen = \"127.0.0.1:\(port + 1)\"").utf8))
        kill(daemon.pid, SIGHUP)
        #expect(
            eventually(within: 10) {
                daemon.logText.contains(
                    "reload: refused metrics.listen (\"127.0.0.1:\(port)\" → \"127.0.0.1:\(port + 1)\")")
            },
            "\(daemon.logText)")
        #expect(Self.get(port).status == "HTTP/1.1 200 OK")
    }

    @Test("every metric the Grafana dashboard queries exists in /metrics")
    func dashboard() throws {
        let port = freePort()
        let (daemon, _) = try Self.daemon(port: port)
        defer { _ = daemon.stop() }
        _ = try Self.replay(daemon)
        let exposed = Set(Self.samples(Self.get(port).body).map(\.name))
        let json = String(decoding: readFile(packageRoot + "/contrib/grafana/labyrinth.json") ?? [], as: UTF8.self)
        let dashboard = try JSON.parse(json)
        var expressions: [String] = []
        func walk(_ j: JSON) {
            switch j {
            case .object(let pairs):
                for (k, v) in pairs {
                    if k == "expr", let e = v.stringValue { expressions.append(e) }
                    walk(v)
                }
            case .array(let array): array.forEach(walk)
            default: break
            }
        }
        walk(dashboard)
        #expect(expressions.count >= 10)
        var names = Set<String>()
        for e in expressions {
            for token in e.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") })
            where token.hasPrefix("labyrinth_") {
                names.insert(String(token))
            }
        }
        #expect(names.count >= 15)
        let missing = names.subtracting(exposed)
        #expect(missing.isEmpty, "the dashboard queries metrics /metrics does not have: \(missing.sorted())")
    }
}

extension Array where Element == String {
    fileprivate var pairOrEmpty: (String, String) { (count > 0 ? self[0] : "", count > 1 ? self[1] : "") }
}

/// A port nobody listens on now (the kernel's pick, then closed).
func freePort(udp: Bool = false) -> Int {
    let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length)
            return getsockname(fd, $0, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
