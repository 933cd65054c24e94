import CRoomsSupport
import Packet
import Rooms
import Synchronization

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
    /// Pause-spins before sleeping when the queue is empty (0 when workers
    /// share CPUs with their feeder).
    public var spinBeforeSleep: Int = 256

    public init() {}
}

/// State shared between a worker thread and the control plane: the worker
/// writes, everyone else reads counters or raises flags.
public final class WorkerShared: Sendable {
    public let index: Int
    public let counters: SingleWriterCounters
    /// Set by the control plane: finish what is queued, then exit.
    let stopFlag = Atomic<Bool>(false)
    /// Set by the worker when it has exited.
    let exitedFlag = Atomic<Bool>(false)
    /// The CPU the worker was pinned to, if any.
    public let cpu: Int?

    init(index: Int, cpu: Int?) {
        self.index = index
        self.cpu = cpu
        counters = .allocate(count: WorkerCounter.slotCount)
    }

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
        while true {
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
            c.add(WorkerCounter.heartbeat.rawValue, 1)
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
            }
        }
        processor.releaseHeld()
        processor.publishFlowGauges()
        let flows = processor.flowRecords()
        room.unclaim()
        shared.exitedFlag.store(true, ordering: .releasing)
        return flows
    }
}
