import CRoomsSupport
import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// An anonymous memory mapping, owned: dropping it unmaps it, and nothing
/// can use a copy of it afterwards because there is none.
/// The corresponding C functions are `mmap`, `madvise`, `mlock`, `munmap`.
struct Mapping: ~Copyable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    let hugePages: HugePageUse
    let locked: Bool

    enum HugePageUse: String, Sendable { case none, transparent, hugetlb }

    /// Maps `byteCount` bytes aligned to `alignment`, advises transparent
    /// hugepages or uses MAP_HUGETLB as asked, pre-faults every page and, when
    /// `lock` is set, locks them. What it could not get (hugepages, a
    /// best-effort lock) is appended to `notes` for the layout report.
    init(
        byteCount: Int, alignment: Int, hugePages: HugePagePolicy, lock: LockPolicy, what: String,
        notes: inout [String]
    ) throws(ArenaError) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0)
        var mapped: UnsafeMutableRawPointer? = nil
        var use = HugePageUse.none
        let hugeSize = 2 << 20
        if hugePages == .hugetlb {
            let size = (byteCount + hugeSize - 1) / hugeSize * hugeSize
            let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0)
            if let p, p != MAP_FAILED, size == byteCount {
                mapped = p
                use = .hugetlb
            } else {
                if let p, p != MAP_FAILED { munmap(p, size) }
                notes.append(
                    "\(what): MAP_HUGETLB unavailable (\(Errno.current)), using transparent hugepages"
                )
            }
        }
        if mapped == nil {
            // Over-map, then trim to the alignment.
            let span = byteCount + alignment
            guard let raw = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
                raw != MAP_FAILED
            else {
                throw .mapFailed(what: what, bytes: byteCount, errno: .current)
            }
            let start = UInt(bitPattern: raw)
            let aligned = (start + UInt(alignment) - 1) & ~UInt(alignment - 1)
            let head = Int(aligned - start)
            if head > 0 { munmap(raw, head) }
            let tail = span - head - byteCount
            if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(byteCount)), tail) }
            mapped = UnsafeMutableRawPointer(bitPattern: aligned)
            if hugePages != .none && Mapping.transparentHugePagesAvailable {
                if madvise(mapped, byteCount, MADV_HUGEPAGE) == 0 {
                    use = .transparent
                } else {
                    notes.append("\(what): MADV_HUGEPAGE refused (\(Errno.current))")
                }
            }
        }
        let base = mapped!
        // Pre-fault: MADV_POPULATE_WRITE (Linux 5.14), else touch each page.
        let madvPopulateWrite: Int32 = 23
        if madvise(base, byteCount, madvPopulateWrite) != 0 {
            var offset = 0
            while offset < byteCount {
                base.storeBytes(of: 0, toByteOffset: offset, as: UInt8.self)
                offset += 4096
            }
        }
        var isLocked = false
        if lock != .off {
            if mlock(base, byteCount) == 0 {
                isLocked = true
            } else {
                let e = Errno.current
                let limit = lab_memlock_limit()
                let error = ArenaError.lockFailed(
                    what: what, bytes: byteCount, limit: limit < 0 ? nil : Int(limit), errno: e)
                if lock == .required {
                    munmap(base, byteCount)
                    throw error
                }
                notes.append("\(error); going on unlocked (the lock is best-effort)")
            }
        }
        self.base = base
        self.byteCount = byteCount
        self.hugePages = use
        self.locked = isLocked
    }

    deinit {
        munmap(base, byteCount)
    }

    /// Gives up ownership without unmapping: the memory stays mapped for
    /// the process's life (an arena dropped while a worker may still touch
    /// its pages).
    consuming func leak() {
        discard self
    }

    /// Whether transparent hugepages can be advised: the kernel's mode is
    /// `always` or `madvise`.
    static var transparentHugePagesAvailable: Bool {
        guard let f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r") else { return false }
        defer { fclose(f) }
        var buffer = [CChar](repeating: 0, count: 128)
        guard fgets(&buffer, 128, f) != nil else { return false }
        let mode = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return !mode.contains("[never]")
    }
}
