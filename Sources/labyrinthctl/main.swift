import ArgumentParser
import StatsProtocol

#if canImport(Glibc)
import Glibc
#endif

@main
struct Labyrinthctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labyrinthctl",
        abstract: "Ask a running labyrinthd over its stats socket.",
        discussion:
            "Exit status: 0, or 1 when the daemon answered with an error, 69 when the socket cannot be reached, 77 when permission is denied, 76 when the reply is unreadable.",
        subcommands: [
            Stats.self, Workers.self, Rooms.self, Flows.self, Replay.self, Prometheus.self, Watch.self,
            Version.self, Uptime.self, Config.self, Raw.self,
        ]
    )
}

struct Common: ParsableArguments {
    @Option(help: "The daemon's stats socket.")
    var socket: String = "/run/labyrinth/labyrinthd.sock"

    @Flag(help: "Print the daemon's JSON result instead of a table.")
    var json = false

    /// One request; prints an error and exits on failure.
    func ask(_ request: JSON) throws -> JSON {
        do {
            var client = try StatsClient(path: socket)
            return try unwrap(try client.request(request))
        } catch let e as StatsClientError {
            fail(e.description, code: e.exitCode)
        }
    }

    func connect() -> StatsClient {
        do {
            return try StatsClient(path: socket)
        } catch {
            fail(error.description, code: error.exitCode)
        }
    }

    /// One request on an open connection; prints an error and exits on failure.
    func ask(_ request: JSON, on client: inout StatsClient) throws -> JSON {
        do {
            return try unwrap(try client.request(request))
        } catch let e as StatsClientError {
            fail(e.description, code: e.exitCode)
        }
    }

    func unwrap(_ reply: JSON) throws -> JSON {
        if reply["ok"] == .bool(true), let result = reply["result"] { return result }
        fail("the daemon said: \(reply["error"]?.stringValue ?? reply.text)", code: 1)
    }

    func fail(_ message: String, code: Int32) -> Never {
        var text = "labyrinthctl: \(message)\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        Glibc.exit(code)
    }

    func show(_ result: JSON, table: (JSON) -> String) {
        print(json ? result.prettyText : table(result))
    }
}

// MARK: Commands

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Totals over all workers.")
    @OptionGroup var common: Common

    func run() throws {
        common.show(try common.ask(["command": "stats"])) { r in
            var lines: [String] = []
            lines.append(
                "uptime \(Format.duration(r["uptime_seconds"]?.doubleValue ?? 0)), \(r["workers"]?.intValue ?? 0) workers"
            )
            lines.append("packets \(n(r["packets"]))  bytes \(n(r["bytes"]))  processed \(n(r["processed"]))")
            let decoded = ["ipv4", "ipv6", "tcp", "udp", "icmp", "icmpv6", "arp", "vlan", "other", "fragments"]
            lines.append("decoded  " + decoded.map { "\($0) \(n(r["decoded"]?[$0]))" }.joined(separator: "  "))
            lines.append("truncated \(n(r["truncated"]))  oversized \(n(r["oversized"]))")
            if case .object(let reasons)? = r["malformed"] {
                let bad = reasons.filter { ($0.1.intValue ?? 0) > 0 }
                lines.append(
                    "malformed " + (bad.isEmpty ? "none" : bad.map { "\($0.0) \(n($0.1))" }.joined(separator: "  ")))
            }
            lines.append("dropped  nomem \(n(r["dropped"]?["nomem"]))  rx_missed \(n(r["dropped"]?["rx_missed"]))")
            let f = r["flows"]
            lines.append(
                "flows    total \(n(f?["total"]))  tcp/udp \(n(f?["tcp_udp"]))  icmp \(n(f?["icmp"]))  active \(n(f?["active"]))  expired \(n(f?["expired"]))  table_full \(n(f?["table_full"]))"
            )
            let rm = r["rooms"]
            lines.append(
                "rooms    free \(n(rm?["free_pages"])) pages  in use \(n(rm?["in_use_pages"]))  alloc_fail \(n(rm?["alloc_fail"]))  reserve_dips \(n(rm?["reserve_dips"]))"
            )
            let rp = r["replay"]
            lines.append(
                "replay   queued \(n(rp?["queued"]))  running \(n(rp?["running"]))  done \(n(rp?["done"]))  failed \(n(rp?["failed"]))  packets \(n(rp?["packets"]))"
            )
            return lines.joined(separator: "\n")
        }
    }
}

struct Workers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Per worker: CPU, state, heartbeat and counters.")
    @OptionGroup var common: Common

    func run() throws {
        common.show(try common.ask(["command": "workers"])) { r in
            Table(
                [
                    "worker", "cpu", "state", "heartbeat", "received", "processed", "nomem", "malformed", "flows",
                    "polls", "sleeps",
                ],
                (r.arrayValue ?? []).map { w in
                    [
                        n(w["worker"]), w["cpu"]?.intValue.map(String.init) ?? "-", w["state"]?.stringValue ?? "?",
                        n(w["heartbeat"]), n(w["received"]), n(w["processed"]), n(w["dropped_nomem"]),
                        n(w["malformed"]),
                        n(w["flows_created"]), n(w["polls"]), n(w["sleeps"]),
                    ]
                }
            ).text
        }
    }
}

struct Rooms: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Per room: the page allocator's counters.")
    @OptionGroup var common: Common

    func run() throws {
        common.show(try common.ask(["command": "rooms"])) { r in
            Table(
                [
                    "room", "pages", "free", "in_use", "high_water", "alloc_fast", "alloc_slow", "alloc_fail",
                    "reserve_dips",
                    "low_wm", "free_remote", "reclaimed",
                ],
                (r.arrayValue ?? []).map { x in
                    [
                        n(x["room"]), n(x["pages"]), n(x["free_pages"]), n(x["in_use_pages"]),
                        n(x["in_use_high_water"]),
                        n(x["alloc_fast"]), n(x["alloc_slow"]),
                        String((x["alloc_fail"]?.arrayValue ?? []).compactMap(\.intValue).reduce(0, +)),
                        n(x["reserve_dips"]), n(x["low_watermark_events"]), n(x["free_remote"]), n(x["reclaimed"]),
                    ]
                }
            ).text
        }
    }
}

struct Flows: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The top flows over all workers.")
    @OptionGroup var common: Common
    @Option(help: "How many.") var top: Int = 10
    @Option(help: "bytes or packets.") var by: String = "bytes"

    func run() throws {
        common.show(try common.ask(["command": "flows", "top": .int(top), "by": .string(by)])) { r in
            var text = Table(
                ["proto", "packets", "bytes", "a->b", "b->a", "flags", "a", "b"],
                (r["flows"]?.arrayValue ?? []).map { f in
                    [
                        f["protocol"]?.stringValue ?? "", n(f["packets"]), n(f["bytes"]), n(f["packets_a_to_b"]),
                        n(f["packets_b_to_a"]), f["tcp_flags"]?.stringValue ?? "", f["a"]?.stringValue ?? "",
                        f["b"]?.stringValue ?? "",
                    ]
                }
            ).text
            if let missing = r["workers_not_answering"]?.arrayValue, !missing.isEmpty {
                text +=
                    "\nworkers that did not answer: \(missing.compactMap(\.intValue).map(String.init).joined(separator: ", "))"
            }
            return text
        }
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push a capture through the running workers and follow it to the end.")
    @OptionGroup var common: Common
    @Argument(help: "The capture file (the daemon must be able to read it).") var file: String
    @Option(help: "max or original.") var speed: String?
    @Option(help: "With --speed original: this many times faster.") var multiplier: Double?
    @Option(help: "Packets per second.") var pps: Double?
    @Option(help: "Megabits per second.") var mbps: Double?
    @Flag(help: "Queue it and return without waiting.") var noWait = false

    func run() throws {
        var path = file
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: 4096)
            if getcwd(&buffer, buffer.count) != nil {
                path =
                    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/"
                    + file
            }
        }
        var request: [(String, JSON)] = [("command", "replay"), ("file", .string(path))]
        if let speed { request.append(("speed", .string(speed))) }
        if let multiplier { request.append(("multiplier", .double(multiplier))) }
        if let pps { request.append(("pps", .double(pps))) }
        if let mbps { request.append(("mbps", .double(mbps))) }
        var job = try common.ask(.object(request))
        guard let id = job["job"]?.intValue else { common.fail("no job number in the reply", code: 76) }
        if !noWait {
            var last = ""
            while let state = job["state"]?.stringValue, state == "queued" || state == "running" {
                let line = "job \(id): \(state), \(n(job["packets"])) packets"
                if !common.json && isatty(1) != 0 && line != last {
                    print("\r" + line, terminator: "")
                    fflush(nil)
                    last = line
                }
                usleep(100_000)
                job = try common.ask(["command": "replay", "job": .int(id)])
            }
            if !common.json && isatty(1) != 0 && !last.isEmpty { print("") }
        }
        common.show(job) { j in
            var text = "job \(n(j["job"])): \(j["state"]?.stringValue ?? "?"): \(j["file"]?.stringValue ?? "")"
            if j["packets"] != nil {
                text += "\n\(n(j["packets"])) packets, \(n(j["bytes"])) bytes"
                if let s = j["elapsed_seconds"]?.doubleValue { text += " in \(Format.fixed(s, 3)) s" }
            }
            if let e = j["error"] {
                text +=
                    "\nerror: \(e["file"]?.stringValue ?? ""): record \(n(e["record"])) at byte offset \(n(e["offset"])): \(e["message"]?.stringValue ?? "")"
            }
            return text
        }
        if job["state"]?.stringValue == "failed" { throw ExitCode(1) }
    }
}

struct Prometheus: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The counters in Prometheus text format.")
    @OptionGroup var common: Common

    func run() throws {
        let result = try common.ask(["command": "prometheus"])
        print(common.json ? result.prettyText : result.stringValue ?? "", terminator: "")
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The daemon's version.")
    @OptionGroup var common: Common
    func run() throws {
        common.show(try common.ask(["command": "version"])) { "labyrinthd \($0["version"]?.stringValue ?? "?")" }
    }
}

struct Uptime: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "How long the daemon has run.")
    @OptionGroup var common: Common
    func run() throws {
        common.show(try common.ask(["command": "uptime"])) { Format.duration($0["seconds"]?.doubleValue ?? 0) }
    }
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The running configuration (JSON).")
    @OptionGroup var common: Common
    func run() throws {
        print(try common.ask(["command": "config"]).prettyText)
    }
}

struct Raw: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send one raw JSON request line and print the reply.")
    @OptionGroup var common: Common
    @Argument(help: "The request, e.g. '{\"command\":\"help\"}'.") var request: String

    func run() throws {
        let parsed: JSON
        do {
            parsed = try JSON.parse(request)
        } catch {
            common.fail("the request is not JSON: \(error)", code: 64)
        }
        do {
            var client = try StatsClient(path: common.socket)
            print(try client.request(parsed).prettyText)
        } catch let e as StatsClientError {
            common.fail(e.description, code: e.exitCode)
        }
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A live view with per-second rates, refreshed in place (Ctrl-C ends it).")
    @OptionGroup var common: Common
    @Option(help: "Seconds between refreshes.") var interval: Double = 1
    @Option(help: "Stop after this many refreshes (0: never).") var count: Int = 0

    func run() throws {
        guard interval > 0 else { common.fail("--interval must be above 0", code: 64) }
        var client = common.connect()
        var previous: (workers: [JSON], rooms: [JSON], at: Double)? = nil
        var refreshes = 0
        let clear = isatty(1) != 0 && !common.json
        while count == 0 || refreshes < count {
            let stats = try common.ask(["command": "stats"], on: &client)
            let workers = try common.ask(["command": "workers"], on: &client)
            let rooms = try common.ask(["command": "rooms"], on: &client)
            let now = Double(monotonicNanoseconds()) / 1e9
            let ws = workers.arrayValue ?? []
            let rs = rooms.arrayValue ?? []
            if common.json {
                print(JSON.object([("stats", stats), ("workers", workers), ("rooms", rooms)]).text)
            } else {
                var out = clear ? "\u{1B}[H\u{1B}[2J" : ""
                out += "labyrinthd  up \(Format.duration(stats["uptime_seconds"]?.doubleValue ?? 0))  "
                out += "packets \(n(stats["packets"]))  flows \(n(stats["flows"]?["total"]))  "
                out +=
                    "dropped \((stats["dropped"]?["nomem"]?.intValue ?? 0) + (stats["dropped"]?["rx_missed"]?.intValue ?? 0))\n\n"
                let seconds = previous.map { now - $0.at } ?? 0
                func rate(_ key: String, _ i: Int, _ list: [JSON], _ old: [JSON]?) -> String {
                    guard let old, seconds > 0, i < old.count else { return "-" }
                    let d = (list[i][key]?.intValue ?? 0) - (old[i][key]?.intValue ?? 0)
                    return Format.fixed(Double(d) / seconds, 0)
                }
                func mbps(_ i: Int) -> String {
                    guard let old = previous?.workers, seconds > 0, i < old.count else { return "-" }
                    let d = (ws[i]["bytes"]?.intValue ?? 0) - (old[i]["bytes"]?.intValue ?? 0)
                    return Format.fixed(Double(d) * 8 / seconds / 1e6, 2)
                }
                out +=
                    Table(
                        ["worker", "cpu", "state", "pps", "Mbps", "nomem/s", "flows/s", "received", "heartbeat/s"],
                        ws.indices.map { i in
                            [
                                n(ws[i]["worker"]), ws[i]["cpu"]?.intValue.map(String.init) ?? "-",
                                ws[i]["state"]?.stringValue ?? "?",
                                rate("received", i, ws, previous?.workers), mbps(i),
                                rate("dropped_nomem", i, ws, previous?.workers),
                                rate("flows_created", i, ws, previous?.workers), n(ws[i]["received"]),
                                rate("heartbeat", i, ws, previous?.workers),
                            ]
                        }
                    ).text
                out += "\n\n"
                out +=
                    Table(
                        ["room", "free", "in_use", "allocs/s", "fail/s", "dips/s", "reclaimed/s"],
                        rs.indices.map { i in
                            let allocs: String = {
                                guard let old = previous?.rooms, seconds > 0, i < old.count else { return "-" }
                                let now = (rs[i]["alloc_fast"]?.intValue ?? 0) + (rs[i]["alloc_slow"]?.intValue ?? 0)
                                let then = (old[i]["alloc_fast"]?.intValue ?? 0) + (old[i]["alloc_slow"]?.intValue ?? 0)
                                return Format.fixed(Double(now - then) / seconds, 0)
                            }()
                            let fails: String = {
                                guard let old = previous?.rooms, seconds > 0, i < old.count else { return "-" }
                                let sum = { (x: JSON) in
                                    (x["alloc_fail"]?.arrayValue ?? []).compactMap(\.intValue).reduce(0, +)
                                }
                                return Format.fixed(Double(sum(rs[i]) - sum(old[i])) / seconds, 0)
                            }()
                            return [
                                n(rs[i]["room"]), n(rs[i]["free_pages"]), n(rs[i]["in_use_pages"]), allocs, fails,
                                rate("reserve_dips", i, rs, previous?.rooms), rate("reclaimed", i, rs, previous?.rooms),
                            ]
                        }
                    ).text
                print(out)
            }
            fflush(nil)
            previous = (ws, rs, now)
            refreshes += 1
            if count == 0 || refreshes < count { usleep(UInt32(interval * 1_000_000)) }
        }
    }
}

// MARK: Formatting

func n(_ j: JSON?) -> String { j?.intValue.map(String.init) ?? (j?.doubleValue.map { Format.fixed($0, 2) } ?? "-") }

func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

enum Format {
    static func fixed(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return "\(x)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(x) * scale).rounded()
        let whole = Int(scaled / scale)
        if digits == 0 { return (x < 0 && whole != 0 ? "-" : "") + String(whole) }
        var frac = String(Int(scaled) - whole * Int(scale))
        while frac.count < digits { frac = "0" + frac }
        return (x < 0 ? "-" : "") + "\(whole).\(frac)"
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s)
        if t < 60 { return "\(fixed(s, 1))s" }
        if t < 3600 { return "\(t / 60)m\(t % 60)s" }
        if t < 86400 { return "\(t / 3600)h\((t % 3600) / 60)m" }
        return "\(t / 86400)d\((t % 86400) / 3600)h"
    }
}

/// A plain text table: headers, then rows, right-aligned numbers.
struct Table {
    var headers: [String]
    var rows: [[String]]

    init(_ headers: [String], _ rows: [[String]]) {
        self.headers = headers
        self.rows = rows
    }

    var text: String {
        var widths = headers.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return Int(c) != nil || c == "-" ? pad + c : c + pad
            }.joined(separator: "  ")
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}
