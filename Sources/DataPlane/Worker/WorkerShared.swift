import CRoomsSupport
import Capture
import Packet
import Rooms
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// State shared between a worker thread and the control plane: the worker
/// writes, everyone else reads counters or raises flags. Nothing here is a
/// lock the worker takes.
public final class WorkerShared: @unchecked Sendable {
    public let index: Int
    public let counters: SingleWriterCounters
    /// The CPU the worker was pinned to, if any.
    public let cpu: Int?
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

    /// Live workers open their sources on their own thread: 0 starting,
    /// 1 running, 2 failed (``startError`` says why).
    let startState = Atomic<Int>(0)
    /// Written by the worker before it publishes state 2 (releasing), read
    /// after it is seen (acquiring).
    private var startFailureValue: LiveCaptureError? = nil

    /// The worker's notes (warnings): a single-writer log. The worker
    /// writes entry `n` and then publishes `noteCount = n + 1` (releasing);
    /// readers read the entries below the count they see (acquiring).
    private let noteEntries: UnsafeMutablePointer<String>
    private let noteCount = Atomic<Int>(0)
    private let notesDropped = Atomic<Int>(0)
    static let noteCapacity = 64

    /// New BPF filters for the worker's live sources, posted by the control
    /// plane without a lock the worker takes.
    let filters = FilterMailbox()

    /// Where the worker's ended flows go, when flows are exported.
    public let exportRing: FlowExportRing?

    /// Flush requests: the control plane bumps `flushRequest`; the worker
    /// ends every flow (forced end) between polls and sets `flushAnswered`.
    let flushRequest = Atomic<Int>(0)
    let flushAnswered = Atomic<Int>(0)

    init(index: Int, cpu: Int?, exportRing: FlowExportRing? = nil) {
        self.index = index
        self.cpu = cpu
        self.exportRing = exportRing
        counters = .allocate(count: WorkerCounter.slotCount)
        flowReply = .allocate(capacity: WorkerShared.maximumTopFlows)
        noteEntries = .allocate(capacity: WorkerShared.noteCapacity)
    }

    deinit {
        counters.deallocate()
        flowReply.deallocate()
        noteEntries.deinitialize(count: noteCount.load(ordering: .acquiring))
        noteEntries.deallocate()
    }

    // MARK: Start and notes (worker writes, others read)

    func setStartError(_ failure: LiveCaptureError) {
        startFailureValue = failure
        startState.store(2, ordering: .releasing)
    }

    /// Why the worker could not start its live sources, if it could not.
    public var startFailure: LiveCaptureError? {
        startState.load(ordering: .acquiring) == 2 ? startFailureValue : nil
    }

    /// Worker side: adds a note (not on the packet path).
    func addNote(_ note: String) {
        let n = noteCount.load(ordering: .relaxed)
        guard n < WorkerShared.noteCapacity else {
            notesDropped.wrappingAdd(1, ordering: .relaxed)
            return
        }
        (noteEntries + n).initialize(to: note)
        noteCount.store(n + 1, ordering: .releasing)
    }

    /// Warnings from the worker (activation warnings, filters it could not
    /// apply), oldest first.
    public var notes: [String] {
        let n = noteCount.load(ordering: .acquiring)
        var out = Array(UnsafeBufferPointer(start: noteEntries, count: n))
        let dropped = notesDropped.load(ordering: .relaxed)
        if dropped > 0 { out.append("\(dropped) more notes dropped") }
        return out
    }

    // MARK: Filters

    /// Posts new BPF filters for the worker's sources (by source index;
    /// nil: none); returns the generation to wait for with
    /// ``appliedFilters``. Control plane only, one poster at a time.
    public func postFilters(_ filters: [String?]) -> Int { self.filters.post(filters) }

    /// The filter generation the worker has applied.
    public var appliedFilters: Int { filters.applied.load(ordering: .acquiring) }

    // MARK: Flush

    /// Asks the worker to end every flow now (IPFIX forced end); returns
    /// the request number to wait for with ``flushed(_:)``.
    public func requestFlush() -> Int { flushRequest.wrappingAdd(1, ordering: .releasing).newValue }

    /// Whether the worker has served flush request `request` (or exited).
    public func flushed(_ request: Int) -> Bool {
        flushAnswered.load(ordering: .acquiring) >= request || exited
    }

    /// Worker side: serves a pending flush.
    @inline(__always)
    func answerFlush(_ processor: inout PacketProcessor, waitingForExport: Bool) {
        let request = flushRequest.load(ordering: .acquiring)
        guard _slowPath(request != flushAnswered.load(ordering: .relaxed)) else { return }
        processor.flushFlows(waitingForExport: waitingForExport)
        processor.publishFlowGauges()
        flushAnswered.store(request, ordering: .releasing)
    }

    // MARK: Top flows

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

    /// Whether a top-flows or flush request waits for an answer.
    @inline(__always)
    var flowRequestPending: Bool {
        flowRequest.load(ordering: .relaxed) != flowAnswered.load(ordering: .relaxed)
            || flushRequest.load(ordering: .relaxed) != flushAnswered.load(ordering: .relaxed)
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

    // MARK: Counters

    /// The worker's heartbeat (moves on every loop of its poll).
    public var heartbeat: Int { counter(.heartbeat) }

    public var exited: Bool { exitedFlag.load(ordering: .acquiring) }

    public func counter(_ c: WorkerCounter) -> Int { counters.load(c.rawValue) }

    /// Frames taken from the source: processed plus dropped for want of memory.
    public var received: Int { counter(.processed) + counter(.droppedNoMemory) }
    public func malformed(_ m: Malformation) -> Int { counters.load(WorkerCounter.malformed(m)) }
}

/// New filters from the control plane to one worker, without a lock: an
/// atomic pointer to an immutable ``PostedFilters``, swapped by the one
/// poster and freed only once the worker has acknowledged a newer one
/// (deferred free). The worker compares generations once per poll and reads
/// the object only when they differ.
final class FilterMailbox: @unchecked Sendable {
    /// The latest posting (an unretained ``PostedFilters``), or nil.
    private let latest = Atomic<UnsafeRawPointer?>(nil)
    /// Its generation, published after `latest` (releasing).
    let generation = Atomic<Int>(0)
    /// The generation the worker applied.
    let applied = Atomic<Int>(0)
    /// Postings the worker may still read, oldest first; touched only by
    /// the poster (the control plane serialises posting).
    private var retained: [PostedFilters] = []

    final class PostedFilters {
        let filters: [String?]
        let generation: Int
        init(_ filters: [String?], generation: Int) {
            self.filters = filters
            self.generation = generation
        }
    }

    /// Poster: publishes `filters`, returns their generation.
    func post(_ filters: [String?]) -> Int {
        let done = applied.load(ordering: .acquiring)
        // The worker has applied `done`, so it will never read anything older.
        retained.removeAll { $0.generation < done }
        let next = generation.load(ordering: .relaxed) + 1
        let posting = PostedFilters(filters, generation: next)
        retained.append(posting)
        latest.store(UnsafeRawPointer(Unmanaged.passUnretained(posting).toOpaque()), ordering: .releasing)
        generation.store(next, ordering: .releasing)
        return next
    }

    /// Worker: whether a posting waits (one relaxed load each side).
    @inline(__always)
    var hasNews: Bool { generation.load(ordering: .relaxed) != applied.load(ordering: .relaxed) }

    /// Worker: the latest posting's filters and generation. The object
    /// stays alive: the poster frees only postings older than `applied`.
    func take() -> (filters: [String?], generation: Int)? {
        guard generation.load(ordering: .acquiring) != 0, let raw = latest.load(ordering: .acquiring) else {
            return nil
        }
        let posting = Unmanaged<PostedFilters>.fromOpaque(raw).takeUnretainedValue()
        return (posting.filters, posting.generation)
    }

    /// Worker: acknowledges `generation`.
    func acknowledge(_ generation: Int) {
        applied.store(generation, ordering: .releasing)
    }
}
