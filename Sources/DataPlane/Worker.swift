import CRoomsSupport
import Packet
import Rooms
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a worker runs.
public struct WorkerOptions: Sendable {
    /// Frames per poll before the worker checks in (NAPI's budget).
    public var budget: Int = 64
    /// Never sleep: poll continuously (NAPI busy polling).
    public var busyPoll: Bool = false
    /// Flow table slots.
    public var flowCapacity: Int = 65_536
    /// Nanoseconds of silence after which a flow expires.
    public var idleTimeout: Int64 = 120_000_000_000
    /// Test hook: pages kept this many frames before being freed.
    public var holdFrames: Int = 0
    /// Test hook: with `holdFrames`, a held page goes home after this many
    /// nanoseconds (0: only when newer frames push it out).
    public var holdNanoseconds: Int64 = 0
    /// uring backend: pages lent to the kernel per socket (a power of two).
    public var providedBuffers: Int = 256
    /// Pause-spins before sleeping when the queue is empty (0 when workers
    /// share CPUs with their feeder).
    public var spinBeforeSleep: Int = 256
    /// Test hook: worker `stallWorker` stops (no heartbeat, no polling)
    /// `stallAfter` nanoseconds after it starts, until told to stop, as a
    /// worker stuck in a bug would.
    public var stallWorker: Int? = nil
    public var stallAfter: Int64 = 0

    public init() {}
}

/// State shared between a worker thread and the control plane: the worker
/// writes, everyone else reads counters or raises flags.
public final class WorkerShared: @unchecked Sendable {
    public let index: Int
    public let counters: SingleWriterCounters
    /// Set by the control plane: finish what is queued, then exit.
    let stopFlag = Atomic<Bool>(false)
    /// Set by the worker when it has exited.
    let exitedFlag = Atomic<Bool>(false)

    /// The control plane's requests for the top flows: it bumps
    /// `flowRequest` (with `flowRequestTop` and `flowRequestByPackets` set
    /// first); the worker answers into `flowReply` between polls and then
    /// sets `flowAnswered` to the request it served.
    let flowRequest = Atomic<Int>(0)
    let flowRequestTop = Atomic<Int>(10)
    let flowRequestByPackets = Atomic<Bool>(false)
    let flowAnswered = Atomic<Int>(0)
    let flowReplyCount = Atomic<Int>(0)
    let flowReply: UnsafeMutablePointer<FlowRecord>
    /// The most flows one request may ask for.
    public static let maximumTopFlows = 1000
    /// The CPU the worker was pinned to, if any.
    public let cpu: Int?
    /// Live workers open their sources on their own thread: 0 starting,
    /// 1 running, 2 failed (``startError`` says why).
    let startState = Atomic<Int>(0)
    private let startErrorText = Mutex<String?>(nil)
    private let noteTexts = Mutex<[String]>([])

    func setStartError(_ message: String) {
        startErrorText.withLock { $0 = message }
        startState.store(2, ordering: .releasing)
    }

    /// Why the worker could not start, if it could not.
    public var startError: String? { startErrorText.withLock { $0 } }

    func addNote(_ note: String) { noteTexts.withLock { $0.append(note) } }

    /// New BPF filters for a live worker's sources (by source index; nil:
    /// none), applied by the worker between polls: the control plane posts
    /// them and bumps the generation, the worker applies them and reports
    /// the generation it applied. Replacing a socket filter is atomic in the
    /// kernel, so no frame goes unfiltered or is lost.
    let filterGeneration = Atomic<Int>(0)
    let filterApplied = Atomic<Int>(0)
    private let filterTexts = Mutex<[String?]>([])

    public func postFilters(_ filters: [String?]) -> Int {
        filterTexts.withLock { $0 = filters }
        return filterGeneration.wrappingAdd(1, ordering: .releasing).newValue
    }

    func postedFilters() -> [String?] { filterTexts.withLock { $0 } }

    /// The filter generation the worker has applied.
    public var appliedFilters: Int { filterApplied.load(ordering: .acquiring) }

    /// Warnings from the worker's start (activation warnings and the like).
    public var notes: [String] { noteTexts.withLock { $0 } }

    init(index: Int, cpu: Int?) {
        self.index = index
        self.cpu = cpu
        counters = .allocate(count: WorkerCounter.slotCount)
        flowReply = .allocate(capacity: WorkerShared.maximumTopFlows)
    }

    deinit {
        flowReply.deallocate()
    }

    /// Asks the worker for its top `count` flows by bytes (or packets);
    /// returns the request number to wait for with ``topFlows(answering:)``.
    public func requestTopFlows(_ count: Int, byPackets: Bool) -> Int {
        flowRequestTop.store(min(max(1, count), WorkerShared.maximumTopFlows), ordering: .relaxed)
        flowRequestByPackets.store(byPackets, ordering: .relaxed)
        return flowRequest.wrappingAdd(1, ordering: .releasing).newValue
    }

    /// The worker's answer to `request`, or nil while it has not answered
    /// (or has exited).
    public func topFlows(answering request: Int) -> [FlowRecord]? {
        guard flowAnswered.load(ordering: .acquiring) >= request else { return nil }
        let n = flowReplyCount.load(ordering: .relaxed)
        return Array(UnsafeBufferPointer(start: flowReply, count: n))
    }

    /// Worker side: serves a pending top-flows request from the worker's
    /// own table.
    func answerFlowRequest(from processor: borrowing PacketProcessor) {
        let request = flowRequest.load(ordering: .acquiring)
        guard request != flowAnswered.load(ordering: .relaxed) else { return }
        let n = processor.topFlows(
            flowRequestTop.load(ordering: .relaxed), byPackets: flowRequestByPackets.load(ordering: .relaxed),
            into: flowReply)
        flowReplyCount.store(n, ordering: .relaxed)
        flowAnswered.store(request, ordering: .releasing)
    }

    /// Worker side, the stall test hook: stop polling (the heartbeat stops
    /// too), as a worker stuck in a bug would, until the daemon stops it.
    func stallUntilStopped() {
        while !stopFlag.load(ordering: .acquiring) {
            var ts = timespec(tv_sec: 0, tv_nsec: 50_000_000)
            nanosleep(&ts, nil)
        }
    }

    /// The worker's heartbeat (moves on every loop of its poll).
    public var heartbeat: Int { counter(.heartbeat) }

    public var exited: Bool { exitedFlag.load(ordering: .acquiring) }

    public func counter(_ c: WorkerCounter) -> Int { counters.load(c.rawValue) }

    /// Frames taken from the source: processed plus dropped for want of memory.
    public var received: Int { counter(.processed) + counter(.droppedNoMemory) }
    public func malformed(_ m: Malformation) -> Int { counters.load(WorkerCounter.malformed(m)) }
}

/// The NAPI loop of a replay worker: sleep on the arrivals doorbell (the
/// interrupt), then poll up to `budget` frames in atomic context; stay
/// polling while the budget runs out, sleep again when it does not.
struct ReplayWorkerLoop: ~Copyable {
    let shared: WorkerShared
    let inbox: ReplayInbox
    let room: Room
    let options: WorkerOptions
    var processor: PacketProcessor

    init(shared: WorkerShared, inbox: ReplayInbox, room: Room, options: WorkerOptions) {
        self.shared = shared
        self.inbox = inbox
        self.room = room
        self.options = options
        processor = PacketProcessor(
            room: room, counters: shared.counters, flowCapacity: options.flowCapacity,
            idleTimeout: options.idleTimeout, holdFrames: options.holdFrames)
    }

    /// Runs until stopped and drained. Returns the flows it saw.
    mutating func run() -> [FlowRecord] {
        room.claim()
        let c = shared.counters
        let ring = inbox.ring
        let budget = options.budget
        let spinLimit = options.spinBeforeSleep
        let stallAt = options.stallWorker == shared.index ? Int64(lab_monotonic_ns()) &+ options.stallAfter : nil
        while true {
            if _slowPath(stallAt != nil) && Int64(lab_monotonic_ns()) > stallAt! {
                shared.stallUntilStopped()
                break
            }
            var n = 0
            AtomicContext.enter()
            while n < budget, let d = ring.pop() {
                if let next = ring.peek(ahead: 1) { processor.prefetch(next) }
                processor.process(
                    UnsafeRawPointer(bitPattern: d.address)!, capturedLength: Int(d.capturedLength),
                    wireLength: Int(d.wireLength), linkType: LinkType(rawValue: d.linkType), timestamp: d.timestamp,
                    flowHash: d.flowHash)
                n &+= 1
            }
            AtomicContext.exit()
            if n > 0 { c.add(WorkerCounter.replayFrames.rawValue, n) }
            c.add(WorkerCounter.heartbeat.rawValue, 1)
            shared.answerFlowRequest(from: processor)
            if n > 0 {
                c.add(WorkerCounter.polls.rawValue, 1)
                // A reader waiting for room sleeps until half the queue is free.
                if ring.count <= ring.capacity / 2 { inbox.space.ring() }
                processor.publishFlowGauges()
            }
            if n == budget {
                c.add(WorkerCounter.budgetExhausted.rawValue, 1)
                continue
            }
            if n > 0 { continue }
            // Nothing queued.
            if shared.stopFlag.load(ordering: .acquiring) && ring.count == 0 { break }
            if options.busyPoll {
                lab_cpu_relax()
                continue
            }
            // A short spin catches back-to-back arrivals without a sleep,
            // unless the worker shares its CPU (then spinning starves the
            // thread it is waiting for).
            var spins = 0
            while spins < spinLimit && ring.count == 0 && !shared.stopFlag.load(ordering: .relaxed) {
                lab_cpu_relax()
                spins &+= 1
            }
            if ring.count != 0 { continue }
            c.add(WorkerCounter.sleeps.rawValue, 1)
            inbox.arrivals.wait(timeoutNanoseconds: 100_000_000) {
                ring.count != 0 || shared.stopFlag.load(ordering: .acquiring)
                    || shared.flowRequest.load(ordering: .relaxed) != shared.flowAnswered.load(ordering: .relaxed)
            }
        }
        shared.answerFlowRequest(from: processor)
        processor.releaseHeld()
        processor.publishFlowGauges()
        let flows = processor.flowRecords()
        room.unclaim()
        shared.exitedFlag.store(true, ordering: .releasing)
        return flows
    }
}
