import CRoomsSupport
import Rooms
import Synchronization
import Testing

/// A small room with round watermarks for boundary tests.
/// 256 pages, min 32 (atomic floor 12), low 40, high 48, cache 16/4.
func smallConfiguration(
    pages: Int = 256, watermarks: Watermarks? = Watermarks(min: 32, low: 40, high: 48),
    cache: Int = 16, batch: Int = 4, rooms: Int = 1
) -> ArenaConfiguration {
    ArenaConfiguration(
        rooms: rooms, pagesPerRoom: pages, watermarks: watermarks, lock: .off,
        hugePages: .none, cacheCapacity: cache, cacheBatch: batch)
}

/// Runs `body` with room 0 of a fresh arena claimed by the calling thread,
/// then checks that every page came home.
func withRoom<R>(
    _ configuration: ArenaConfiguration = smallConfiguration(),
    checkLeaks: Bool = true,
    _ body: (Room) throws -> R
) throws -> R {
    let arena = try Arena(configuration)
    let room = arena.room(0)
    room.claim()
    let result = try body(room)
    room.unclaim()
    if checkLeaks {
        let report = arena.checkForLeaks()
        #expect(report.isClean, "\(report)")
    }
    return result
}

/// Allocates order-`order` pages with `flags` until one fails; keeps them.
func allocateUntilFailure(_ room: Room, order: Int = 0, _ flags: GFP, into batch: inout PageBatch) -> Int {
    var n = 0
    while let page = room.allocate(order: order, flags) {
        batch.accept(page)
        n += 1
    }
    return n
}

#if canImport(Glibc)
import Glibc
#endif

/// A joinable pthread running `body`, outside Swift concurrency.
final class TestThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let box = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(
            &handle, nil,
            { raw in
                let thread = Unmanaged<TestThread>.fromOpaque(raw!).takeRetainedValue()
                thread.body()
                return nil
            }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    func join() {
        pthread_join(handle, nil)
    }
}

/// A single-producer single-consumer ring of raw pages for handing pages to
/// another thread in tests.
final class PageChannel: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<Page?>
    private let capacity: Int
    private let head = UnsafeMutablePointer<Int>.allocate(capacity: 1)  // next to read
    private let tail = UnsafeMutablePointer<Int>.allocate(capacity: 1)  // next to write
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init(capacity: Int) {
        self.capacity = capacity
        slots = .allocate(capacity: capacity)
        for i in 0..<capacity { (slots + i).initialize(to: nil) }
        head.pointee = 0
        tail.pointee = 0
        pthread_mutex_init(lock, nil)
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
        head.deallocate()
        tail.deallocate()
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// Returns the page back when full.
    func send(_ page: consuming Page) -> Page? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if tail.pointee - head.pointee == capacity { return page }
        (slots + tail.pointee % capacity).pointee = .some(page)
        tail.pointee += 1
        return nil
    }

    func receive() -> Page? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if tail.pointee == head.pointee { return nil }
        let i = head.pointee % capacity
        head.pointee += 1
        return slots[i].take()
    }
}

extension Optional where Wrapped: ~Copyable {
    /// Whether there is no value, for optionals of noncopyable pages.
    var isNil: Bool {
        switch self {
        case .none: return true
        case .some: return false
        }
    }
}

/// Whether a sanitizer runtime is loaded (they intercept mlock, among others).
let runningUnderSanitizer: Bool = {
    let handle = dlopen(nil, RTLD_NOW)
    defer { if let handle { dlclose(handle) } }
    return dlsym(handle, "__tsan_init") != nil || dlsym(handle, "__asan_init") != nil
}()

/// Whether thread `tid` of this process is blocked in futex(2) now, by
/// /proc's account of the system call it sleeps in (202 on x86_64, 98 on
/// aarch64): proof that a sleeper is asleep, not merely about to be.
func sleepsInFutex(_ tid: Int32) -> Bool {
    let fd = open("/proc/self/task/\(tid)/syscall", O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 64)
    let n = read(fd, &buffer, buffer.count)
    guard n > 0 else { return false }
    let number = String(decoding: buffer.prefix(n).prefix { $0 != 0x20 }, as: UTF8.self)
    #if arch(x86_64)
    return number == "202"
    #else
    return number == "98"
    #endif
}

/// A flag one thread sets and another reads.
final class SharedFlag: @unchecked Sendable {
    private let value = UnsafeMutablePointer<Atomic<Bool>>.allocate(capacity: 1)
    init() { value.initialize(to: Atomic(false)) }
    deinit { value.deallocate() }
    func set() { value.pointee.store(true, ordering: .releasing) }
    var isSet: Bool { value.pointee.load(ordering: .acquiring) }
}
