import Capture
import DataPlane
import NIOCore
import Packet
import Sinks
import StatsProtocol

#if canImport(Glibc)
import Glibc
#endif

/// A `dump` request, checked: its filter compiled for every link type the
/// workers may see, its source found, its limits.
public struct TapSetup: Sendable {
    public var request: DumpRequest
    public var spec: TapSpec
    /// The interface blocks of the configured sources, by source index
    /// (nil: a source this tap does not take, or whose link type is unknown).
    public var sources: [PcapngInterface?]
    public var snaplen: Int

    /// The link types a worker may hand a tap: every one the decoder takes.
    static let linkTypes = FilterPrograms.decodedLinkTypes
}

/// A `dump` request whose source and limits are checked; its filter is
/// still to compile (``CommandProcessor/tapSetup(_:)``).
public struct TapPlan: Sendable {
    public var request: DumpRequest
    /// The source index; -1: replayed frames; nil: every source.
    public var source: Int?
}

extension CommandProcessor {
    /// Checks a `dump` request at once, on the event loop: taps on, the
    /// source known.
    func tapPlan(_ request: DumpRequest) throws(RequestError) -> TapPlan {
        guard state.taps != nil else {
            throw RequestError("live taps are off (daemon.max_taps = 0)")
        }
        var source: Int? = nil
        if let name = request.interface {
            let config = state.config
            if name == "replay" {
                source = -1
            } else if let i = config.sources.firstIndex(where: { $0.interface == name }) {
                source = i
            } else {
                let known = (config.sources.map(\.interface) + ["replay"]).map { "\"\($0)\"" }
                throw RequestError(
                    "no source \(RequestField.shown(.string(name))): \"interface\" is one of \(known.joined(separator: ", "))"
                )
            }
        }
        return TapPlan(request: request, source: source)
    }

    /// Compiles the plan's filter off the event loop, bounded in time and
    /// size (``FilterCompiler``), and makes the tap's setup.
    public func tapSetup(_ plan: TapPlan) async -> Result<TapSetup, RequestError> {
        let request = plan.request
        var filter: FilterPrograms? = nil
        if let expression = request.filter, !expression.allSatisfy({ $0 == " " }) {
            switch await FilterCompiler.compile(expression, linkTypes: TapSetup.linkTypes) {
            case .success(let programs): filter = programs
            case .failure(let refusal): return .failure(RequestError(refusal.description))
            }
        }
        let snaplen = request.snaplen ?? 262_144
        let source = plan.source
        let sources: [PcapngInterface?] = state.config.sources.enumerated().map { i, s in
            guard source == nil || source == i, let linkType = interfaceLinkType(s.interface),
                filter == nil || filter!.linkTypes.contains(linkType)
            else { return nil }
            return PcapngInterface(
                linkType: UInt16(truncatingIfNeeded: linkType), snapLength: UInt32(snaplen), name: s.interface,
                description: "labyrinthd live tap", filter: request.filter)
        }
        return .success(
            TapSetup(
                request: request, spec: TapSpec(filter: filter, source: source, snaplen: snaplen), sources: sources,
                snaplen: snaplen))
    }
}

/// One live tap's stream to its client, on the stats socket's event loop:
/// it takes the frames out of the tap's rings every 2 ms while the client
/// keeps up (NIO's writability), writes them as pcapng, and ends the tap.
/// Nothing here waits on a worker, and no worker waits on it.
final class TapStream {
    let channel: any Channel
    let board: TapBoard
    let state: DaemonState
    let setup: TapSetup
    let slot: Int
    let rings: [TapRing]
    let started: Int64
    /// Interface numbers in this section, by (source, link type).
    var interfaces: [(source: Int, linkType: UInt32, delivered: UInt64)] = []
    var delivered = 0
    var timer: Scheduled<Void>?
    var deadline: Scheduled<Void>?
    var ended = false
    let onEnd: () -> Void

    init(
        channel: any Channel, board: TapBoard, state: DaemonState, setup: TapSetup, slot: Int,
        onEnd: @escaping () -> Void
    ) {
        self.channel = channel
        self.board = board
        self.state = state
        self.setup = setup
        self.slot = slot
        self.onEnd = onEnd
        rings = board.rings(slot)
        started = TapStream.wallClock()
    }

    static func wallClock() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }

    /// Writes the section header and the live sources' interface blocks,
    /// then starts taking frames.
    func start() {
        var buffer = channel.allocator.buffer(capacity: 4096)
        write(&buffer) { b throws(PcapEncodingError) in
            try PcapngEncoder.sectionHeader(into: b, version: DaemonState.version, os: nil)
        }
        for (i, interface) in setup.sources.enumerated() {
            guard let interface else { continue }
            describe(source: i, linkType: UInt32(interface.linkType), interface, into: &buffer)
        }
        channel.writeAndFlush(buffer, promise: nil)
        tick()
        if let seconds = setup.request.duration {
            deadline = channel.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
                self.end()
            }
        }
    }

    /// Takes frames every 2 ms until the tap ends.
    func tick() {
        guard !ended else { return }
        drain(final: false)
        timer = channel.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(2)) { self.tick() }
    }

    /// Encodes into `buffer` with `body` (which returns the bytes it wrote).
    @discardableResult
    func write(
        _ buffer: inout ByteBuffer, minimum: Int = 4096,
        _ body: (UnsafeMutableRawBufferPointer) throws(PcapEncodingError) -> Int
    ) -> Bool {
        var ok = true
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: minimum) { raw in
            do {
                return try body(raw)
            } catch {
                ok = false
                return 0
            }
        }
        return ok
    }

    /// Adds an interface block for frames of `source` and `linkType`.
    func describe(source: Int, linkType: UInt32, _ interface: PcapngInterface, into buffer: inout ByteBuffer) {
        let written = write(&buffer) { b throws(PcapEncodingError) in
            try PcapngEncoder.interfaceDescription(into: b, interface)
        }
        if written { interfaces.append((source, linkType, 0)) }
    }

    /// The interface number of a frame, describing its interface first
    /// when it is the first of its kind.
    func interface(for record: TapRecord, into buffer: inout ByteBuffer) -> Int? {
        let linkType = record.linkType == 12 || record.linkType == 14 ? 101 : record.linkType
        if let i = interfaces.firstIndex(where: { $0.source == record.source && $0.linkType == linkType }) {
            return i
        }
        let name =
            record.source >= 0 && record.source < state.config.sources.count
            ? state.config.sources[record.source].interface : "replay"
        describe(
            source: record.source, linkType: linkType,
            PcapngInterface(
                linkType: UInt16(truncatingIfNeeded: linkType), snapLength: UInt32(setup.snaplen), name: name,
                description: record.source >= 0
                    ? "labyrinthd live tap" : "labyrinthd live tap: replayed frames, \(LinkType(rawValue: linkType))",
                filter: setup.request.filter),
            into: &buffer)
        return interfaces.firstIndex(where: { $0.source == record.source && $0.linkType == linkType })
    }

    /// Takes what the rings hold into one write: while the client keeps
    /// up, or (`final`) all of it. Returns whether the count was reached.
    @discardableResult
    func drain(final: Bool) -> Bool {
        guard !ended || final else { return false }
        if !final && !channel.isWritable { return false }
        let limit = setup.request.count ?? Int.max
        var buffer = channel.allocator.buffer(capacity: 64 * 1024)
        let budget = final ? Int.max : 1 << 20
        for ring in rings {
            ring.consume { record, frame in
                if delivered >= limit || buffer.readableBytes >= budget { return false }
                guard let i = interface(for: record, into: &buffer) else { return true }
                let written = write(&buffer, minimum: frame.count + 64) { b throws(PcapEncodingError) in
                    try PcapngEncoder.enhancedPacket(
                        into: b, interface: UInt32(i), timestampNanoseconds: record.timestamp, frame: frame,
                        originalLength: record.wire)
                }
                if written {
                    delivered += 1
                    interfaces[i].delivered += 1
                }
                return true
            }
        }
        if buffer.readableBytes > 0 { channel.writeAndFlush(buffer, promise: nil) }
        if delivered >= limit && !ended {
            end()
            return true
        }
        return delivered >= limit
    }

    /// Ends the tap: no worker copies into it any more, what its rings hold
    /// is sent, then a statistics block per interface, then the connection
    /// closes.
    func end() {
        guard !ended else { return }
        ended = true
        timer?.cancel()
        deadline?.cancel()
        let generation = board.close(slot)
        state.wakeWorkers()
        let loop = channel.eventLoop
        let giveUp = state.clock() &+ 2_000_000_000
        func finish() {
            if !board.applied(generation, exited: { self.state.workers[$0].exited }) && state.clock() < giveUp {
                loop.assumeIsolated().scheduleTask(in: .milliseconds(1)) { finish() }
                return
            }
            drain(final: true)
            writeStatistics()
            board.delivered.wrappingAdd(delivered, ordering: .relaxed)
            let channel = self.channel
            let closing = loop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
            channel.writeAndFlush(channel.allocator.buffer(capacity: 0)).whenComplete { _ in
                closing.cancel()
                channel.close(promise: nil)
            }
            onEnd()
        }
        finish()
    }

    /// The client went: the tap ends at once, with nothing more to send.
    func abandon() {
        guard !ended else { return }
        ended = true
        timer?.cancel()
        deadline?.cancel()
        _ = board.close(slot)
        board.delivered.wrappingAdd(delivered, ordering: .relaxed)
        state.wakeWorkers()
        onEnd()
    }

    /// An Interface Statistics Block per interface: `isb_usrdeliv`, the
    /// frames sent on it, and on the first, `isb_osdrop`, the frames the
    /// tap had no room for (the workers count them per tap, not per
    /// interface).
    func writeStatistics() {
        let dropped = rings.reduce(0) { $0 + $1.counts.dropped }
        var buffer = channel.allocator.buffer(capacity: 256)
        let now = TapStream.wallClock()
        // Nothing came: an interface block all the same, so that the
        // statistics (none delivered, the drops) are in the file.
        if interfaces.isEmpty {
            let source = setup.spec.source ?? -1
            let linkType = setup.spec.filter?.linkTypes.first ?? 1
            _ = interface(
                for: TapRecord(captured: 0, wire: 0, source: source, linkType: linkType, timestamp: 0), into: &buffer)
        }
        for (i, interface) in interfaces.enumerated() {
            let statistics = PcapngInterfaceStatistics(
                startNanoseconds: started, endNanoseconds: now, osDropped: i == 0 ? UInt64(dropped) : nil,
                delivered: interface.delivered)
            write(&buffer) { b throws(PcapEncodingError) in
                try PcapngEncoder.interfaceStatistics(
                    into: b, interface: UInt32(i), timestampNanoseconds: now, statistics)
            }
        }
        channel.write(buffer, promise: nil)
    }
}
