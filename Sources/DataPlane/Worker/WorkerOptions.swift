/// How a worker runs: settings only (values, no live objects).
public struct WorkerOptions: Sendable {
    /// Frames per poll before the worker checks in (NAPI's budget).
    public var budget: Int = 64
    /// Never sleep: poll continuously (NAPI busy polling).
    public var busyPoll: Bool = false
    /// Flow table slots.
    public var flowCapacity: Int = 65_536
    /// When flows end: idle, active and TCP linger timeouts (ns).
    public var timeouts = FlowTimeouts()
    /// Ended flows each worker's export ring holds; nil: no export.
    public var exportRing: Int? = nil
    /// Where the workers' io-wq helpers (blocking writes) may run: the CPUs
    /// no worker uses (empty: anywhere).
    public var ioHelperCPUs: [Int] = []
    /// uring: pages lent to the kernel per socket (a power of two).
    public var providedBuffers: Int = 256
    /// Pause-spins before sleeping when the queue is empty (0 when workers
    /// share CPUs with their feeder).
    public var spinBeforeSleep: Int = 256
    /// How frames share the room's memory: chunk order, alignment, batch.
    public var fragments = FragmentOptions()
    #if DEBUG
    /// Test hooks, compiled into debug builds only: a release build has
    /// neither the options nor a branch for them on the packet path.
    public var hooks = WorkerTestHooks()
    #endif

    public init() {}
}

/// How a worker cuts its room into fragments.
public struct FragmentOptions: Sendable, Equatable {
    /// Chunks of 2^chunkOrder pages.
    public var chunkOrder = 4
    /// Fragments start at multiples of this, when not recording (a
    /// recording packs them at its blocks' granularity).
    public var alignment = 64
    /// Frames per batch between pass 1 and pass 2, at most.
    public var batch = 64
    /// How many frames ahead pass 1 prefetches a replayed frame's bytes
    /// (VPP's and DPDK's k; 0: none).
    public var prefetch = 4

    public init() {}
}

#if DEBUG
/// Faults the tests inject into a worker (debug builds only).
public struct WorkerTestHooks: Sendable, Equatable {
    /// Pages kept this many frames before being freed: packets that hold
    /// their pages.
    public var holdFrames: Int = 0
    /// With `holdFrames`, a held page goes home after this many nanoseconds
    /// (0: only when newer frames push it out).
    public var holdNanoseconds: Int64 = 0
    /// Worker `stallWorker` stops (no heartbeat, no polling) `stallAfter`
    /// nanoseconds after it starts, until told to stop, as a worker stuck in
    /// a bug would.
    public var stallWorker: Int? = nil
    public var stallAfter: Int64 = 0

    public init() {}
}
#endif
