import CLinux
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// Why a data-plane thread could not start.
public struct ThreadStartError: ErrnoCarrying, Sendable, CustomStringConvertible {
    public var name: String
    public var cause: Errno
    public var errno: Errno? { cause }
    public var description: String {
        let hint = cause == .notPermitted ? " (SCHED_FIFO needs CAP_SYS_NICE or an RLIMIT_RTPRIO)" : ""
        return "cannot start thread \(name): \(cause)\(hint)"
    }
}

/// A joinable pthread outside Swift concurrency, pinned to its CPUs from its
/// first instruction, optionally SCHED_FIFO, and named (`lab-irq/3`). It owns
/// the thread: `join()` consumes it, and dropping it joins too.
public struct PinnedThread: ~Copyable {
    private let handle: pthread_t
    private var joined = false

    /// Starts `body` on a new thread.
    /// - Parameters:
    ///   - name: the thread's name (15 bytes are kept), as `ps -L` shows it.
    ///   - cpus: the CPUs it may run on; nil inherits the caller's.
    ///   - fifoPriority: SCHED_FIFO priority 1...99, or nil for SCHED_OTHER.
    public init(
        name: String, cpus: [Int]? = nil, fifoPriority: Int? = nil,
        _ body: @escaping @Sendable () -> Void
    ) throws(ThreadStartError) {
        handle = try PinnedThread.spawn(name: name, cpus: cpus, fifoPriority: fifoPriority, body)
    }

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// The one place a data-plane thread starts: pinned from its first
    /// instruction, optionally SCHED_FIFO, named. The body owns a retained
    /// box until it runs. The corresponding C function is `pthread_create`.
    static func spawn(
        name: String, cpus: [Int]?, fifoPriority: Int?, _ body: @escaping @Sendable () -> Void
    ) throws(ThreadStartError) -> pthread_t {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let list = (cpus ?? []).map { Int32(truncatingIfNeeded: $0) }
        let result = Syscall.negatedErrno(retryOnInterrupt: false) {
            list.withUnsafeBufferPointer { cpuBuffer in
                clinux_thread_create(
                    &thread, cpuBuffer.baseAddress, Int32(cpuBuffer.count),
                    Int32(truncatingIfNeeded: fifoPriority ?? 0),
                    name,
                    { raw in
                        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                        box.body()
                        return nil
                    }, box)
            }
        }
        if case .failure(let e) = result {
            Unmanaged<Box>.fromOpaque(box).release()
            throw ThreadStartError(name: name, cause: e)
        }
        return thread
    }

    /// Lets the thread run on its own: it cleans up when it ends, and
    /// nothing joins it. The corresponding C function is `pthread_detach`.
    public consuming func detach() {
        pthread_detach(handle)
        discard self
    }

    /// Waits for the thread to finish.
    public consuming func join() {
        pthread_join(handle, nil)
        joined = true
    }

    deinit {
        if !joined { pthread_join(handle, nil) }
    }

    /// How many CPUs are online.
    public static var onlineCPUs: Int { Int(clinux_online_cpus()) }

    /// The CPUs the calling thread may run on.
    public static var currentAffinity: [Int] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let n = clinux_current_affinity(&cpus, 1024)
        return n > 0 ? cpus.prefix(Int(n)).map { Int($0) } : []
    }

    /// Moves every thread of the process whose name does not start with
    /// `prefix` onto `cpus`, as DPDK keeps its control threads off the
    /// data-plane cores. Threads they create later inherit the mask.
    /// Returns the names of the threads moved.
    @discardableResult
    public static func confineOtherThreads(to cpus: [Int], exceptNamesStartingWith prefix: String) -> [String] {
        guard let dir = opendir("/proc/self/task") else { return [] }
        defer { closedir(dir) }
        let mask = cpus.map { Int32($0) }
        var moved: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let tid = Int32(name) else { continue }
            var comm = [UInt8](repeating: 0, count: 64)
            guard case .success(let file) = Descriptor.open("/proc/self/task/\(tid)/comm", O_RDONLY | O_CLOEXEC)
            else { continue }
            let n = read(file.rawValue, &comm, comm.count)
            let threadName = n > 0 ? String(decoding: comm.prefix(n).filter { $0 != 10 }, as: UTF8.self) : ""
            if threadName.hasPrefix(prefix) { continue }
            if clinux_set_thread_affinity(tid, mask, Int32(mask.count)) == 0 { moved.append(threadName) }
        }
        return moved
    }

    /// The CPU the calling thread runs on now.
    public static var currentCPU: Int { Int(clinux_current_cpu()) }
}

/// A fixed group of joinable pinned threads, owned together: dropping the
/// group joins them all.
public struct ThreadGroup: ~Copyable {
    private let handles: UnsafeMutablePointer<pthread_t>
    private var started = 0
    private var joined = false
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = capacity
        handles = .allocate(capacity: Swift.max(1, capacity))
    }

    /// Starts one more thread; see ``PinnedThread/init(name:cpus:fifoPriority:_:)``.
    public mutating func start(
        name: String, cpus: [Int]? = nil, fifoPriority: Int? = nil, _ body: @escaping @Sendable () -> Void
    ) throws(ThreadStartError) {
        precondition(started < capacity, "ThreadGroup is full")
        (handles + started).initialize(
            to: try PinnedThread.spawn(name: name, cpus: cpus, fifoPriority: fifoPriority, body))
        started += 1
    }

    /// Waits for every started thread.
    public mutating func joinAll() {
        if joined { return }
        for i in 0..<started { pthread_join(handles[i], nil) }
        joined = true
    }

    deinit {
        if !joined {
            for i in 0..<started { pthread_join(handles[i], nil) }
        }
        handles.deallocate()
    }
}
