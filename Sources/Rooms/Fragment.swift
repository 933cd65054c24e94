import CRoomsSupport
import Synchronization

// Fragments: many small frames in one block of the room, as the kernel's
// page_frag_cache (mm/page_frag_cache.c) and page_pool's fragment API pack
// small skbs into shared pages.
//
// A worker keeps a current *chunk*, an order-N block of its own room, and
// carves each frame out of it, aligned. The chunk's first cache line is its
// header: a reference count (an atomic) and its order. The count carries a
// *bias*, as page_frag_cache's `pagecnt_bias`: when a chunk is taken, its
// count is set to a large number once, and the cache keeps the same number
// privately. Each fragment handed out costs the private bias one (a plain
// decrement: no atomic on the owner's path per frame). A fragment the owner
// gives back while its chunk is still current returns to the bias (again no
// atomic), and the latest one also rewinds the offset, so a frame that is
// decoded and dropped at once (no recording) leaves its bytes for the next.
// When the chunk is full, the cache subtracts what is left of its bias from
// the count in one atomic step: the count is then exactly the fragments still
// out. Each of those, released anywhere, takes one off (one atomic); the last
// one sends the chunk home, through the owner's cache on the owner's thread
// and through the room's batched remote-free inbox on any other. A chunk
// whose fragments are all back by the time it is full is reused at once.
//
// A frame larger than half a chunk takes a block of its own, as before; its
// handle says so, and releasing it frees the block.

/// The bytes at the start of a chunk that are its header.
@inlinable public var fragmentChunkHeaderBytes: Int { 64 }

/// A chunk's count starts at this, as page_frag_cache's bias: more than
/// any chunk can hand out (64 KiB in 8-byte fragments is 8192).
@inlinable var fragmentBias: Int { 1 << 20 }

/// One piece of a room's memory holding one frame: a fragment of a shared
/// chunk, or a block of its own. Like a ``Page`` it cannot be copied, so it
/// cannot be released twice; dropping it releases it.
@frozen
public struct Fragment: ~Copyable, @unchecked Sendable {
    /// The fragment's first byte.
    @usableFromInline let address: UnsafeMutableRawPointer
    /// The chunk (or the block of its own) it lies in.
    @usableFromInline let block: UnsafeMutableRawPointer
    @usableFromInline let core: UnsafeMutablePointer<RoomCore>
    /// Its bytes (a block of its own: the whole block).
    @usableFromInline let bytes: Int32
    /// The order of its chunk or block.
    @usableFromInline let order: Int8
    /// A fragment of a shared chunk (false: a block of its own).
    @usableFromInline let shared: Bool

    @inlinable @inline(__always)
    init(
        address: UnsafeMutableRawPointer, block: UnsafeMutableRawPointer, core: UnsafeMutablePointer<RoomCore>,
        bytes: Int32, order: Int8, shared: Bool
    ) {
        self.address = address
        self.block = block
        self.core = core
        self.bytes = bytes
        self.order = order
        self.shared = shared
    }

    /// The fragment's first byte. Valid until it is released.
    @inlinable public var baseAddress: UnsafeMutableRawPointer { address }
    /// Its size in bytes.
    @inlinable public var byteCount: Int { Int(bytes) }
    /// Whether it shares a chunk with others (false: a block of its own).
    @inlinable public var isShared: Bool { shared }
    /// The order of the block it lies in (its chunk's, or its own).
    @inlinable public var blockOrder: Int { Int(order) }
    /// The index of its room.
    @inlinable public var roomIndex: Int { core.pointee.index }

    /// A block of its own taken from a page handle: a frame the kernel
    /// received into a page.
    @inlinable
    public init(_ page: consuming Page) {
        let address = page.address
        let core = page.core
        let order = page._order
        page.forget()
        self.init(
            address: address, block: address, core: core, bytes: Int32(Room.pageSize &<< order),
            order: Int8(order), shared: false)
    }

    /// Gives up the handle without releasing it, to keep it in plain memory
    /// (a write batch); ``RawFragment/adopt()`` makes it a handle again.
    @inlinable
    public consuming func intoRaw() -> RawFragment {
        let raw = RawFragment(
            address: address, block: block, core: core, bytes: bytes, order: order, shared: shared)
        discard self
        return raw
    }

    @inlinable @inline(__always)
    consuming func forget() { discard self }

    /// Releases it from any thread: one atomic off its chunk's count (the
    /// last sends the chunk home), or its own block freed.
    @inlinable
    deinit {
        Fragment.release(block: block, core: core, bytes: Int(bytes), order: Int(order), shared: shared)
    }

    @usableFromInline
    static func release(
        block: UnsafeMutableRawPointer, core: UnsafeMutablePointer<RoomCore>, bytes: Int, order: Int, shared: Bool
    ) {
        let room = Room(core: core)
        let owner = room.isOwnedByCurrentThread
        if owner {
            room.counters.add(.fragmentsFreed, 1)
            room.counters.add(.fragmentBytesFreed, bytes)
        } else {
            core.pointee.inbox.remoteFragments.pointee.wrappingAdd(1, ordering: .relaxed)
            core.pointee.inbox.remoteFragmentBytes.pointee.wrappingAdd(bytes, ordering: .relaxed)
        }
        if shared {
            guard FragmentChunk.put(block, references: 1) else { return }
            if owner {
                room.counters.add(.chunksFreed, 1)
            } else {
                core.pointee.inbox.remoteChunks.pointee.wrappingAdd(1, ordering: .relaxed)
            }
        }
        room.release(address: block, order: order)
    }
}

/// A fragment given up with ``Fragment/intoRaw()``: plain values that fit
/// a write batch's array. ``adopt()`` takes it back under a handle.
@frozen
public struct RawFragment: @unchecked Sendable {
    public let address: UnsafeMutableRawPointer
    @usableFromInline let block: UnsafeMutableRawPointer
    @usableFromInline let core: UnsafeMutablePointer<RoomCore>
    public let bytes: Int32
    @usableFromInline let order: Int8
    public let shared: Bool

    @inlinable
    init(
        address: UnsafeMutableRawPointer, block: UnsafeMutableRawPointer, core: UnsafeMutablePointer<RoomCore>,
        bytes: Int32, order: Int8, shared: Bool
    ) {
        self.address = address
        self.block = block
        self.core = core
        self.bytes = bytes
        self.order = order
        self.shared = shared
    }

    /// The handle again.
    @inlinable
    public func adopt() -> Fragment {
        Fragment(address: address, block: block, core: core, bytes: bytes, order: order, shared: shared)
    }

    /// The block it lies in (its chunk, or its own block).
    @inlinable public var blockAddress: UnsafeMutableRawPointer { block }
    /// Pages of that block.
    @inlinable public var blockPages: Int { 1 &<< Int(order) }
}

/// A chunk's header: its reference count, then its order, in its first
/// cache line.
@usableFromInline
enum FragmentChunk {
    @inlinable @inline(__always)
    static func count(_ chunk: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Atomic<Int>> {
        chunk.assumingMemoryBound(to: Atomic<Int>.self)
    }

    /// The chunk's order (written once when it is taken, before any
    /// fragment of it is handed out).
    @inlinable @inline(__always)
    static func order(_ chunk: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Int> {
        (chunk + MemoryLayout<Atomic<Int>>.stride).assumingMemoryBound(to: Int.self)
    }

    /// Takes `references` off the chunk's count: true when they were the
    /// last (the chunk may go home). Acquire-release: every write to a
    /// fragment happens before the chunk is reused.
    @inlinable @inline(__always)
    static func put(_ chunk: UnsafeMutableRawPointer, references: Int) -> Bool {
        count(chunk).pointee.wrappingSubtract(references, ordering: .acquiringAndReleasing).newValue == 0
    }
}

/// A worker's fragment cache over its own room: the current chunk and its
/// bias. Owner only, like the room's allocation path. Nothing here takes a
/// lock, sleeps or makes a syscall; a chunk that cannot be had (the room is
/// at its watermark) is a failed allocation, which the caller counts as a
/// drop.
public struct FragmentCache: ~Copyable {
    public let room: Room
    /// The chunks' order: 2^order pages each. When the room cannot give a
    /// block that large (it is short of pages, or they are scattered), the
    /// cache takes the smallest block that holds the frame instead, as the
    /// kernel's page_frag falls back to order 0, and tries the full order
    /// again at the next chunk.
    public let chunkOrder: Int
    /// Bytes per chunk (at `chunkOrder`).
    public let chunkBytes: Int
    /// Every fragment starts at a multiple of this (a power of two; it may
    /// change between allocations: a recording packs its blocks tighter).
    public var alignment: Int {
        didSet {
            precondition(alignment >= 1 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        }
    }
    /// Fragments larger than this take a block of their own.
    public let largestShared: Int

    /// The current chunk (nil: none yet, or the last could not be had).
    @usableFromInline var chunk: UnsafeMutableRawPointer?
    /// Its order and bytes (`chunkOrder` and `chunkBytes` unless it is a
    /// smaller one taken under pressure).
    @usableFromInline var currentOrder: Int
    @usableFromInline var currentBytes: Int
    /// The next free byte of the chunk.
    @usableFromInline var offset = 0
    /// The start of the latest fragment (Int.min: none to rewind to).
    @usableFromInline var lastOffset = Int.min
    /// References the cache still holds on the current chunk.
    @usableFromInline var bias = 0

    // The owner's counts, published between polls (``publish()``).
    @usableFromInline var allocated = 0
    @usableFromInline var allocatedBytes = 0
    @usableFromInline var returned = 0
    @usableFromInline var returnedBytes = 0
    @usableFromInline var chunksTaken = 0
    @usableFromInline var chunksReused = 0
    @usableFromInline var chunksSmaller = 0

    /// A cache of chunks of 2^`chunkOrder` pages of `room`, fragments
    /// aligned to `alignment` bytes (a power of two: a cache line for frames
    /// alone; a recording's block granularity, 4 for pcapng and 1 for pcap,
    /// so that its blocks follow each other with no gap).
    public init(room: Room, chunkOrder: Int = 2, alignment: Int = 64) {
        precondition((0...Room.maxOrder).contains(chunkOrder), "chunk order \(chunkOrder) is outside 0...4")
        precondition(alignment >= 1 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        self.room = room
        self.chunkOrder = chunkOrder
        chunkBytes = Room.pageSize << chunkOrder
        currentOrder = chunkOrder
        currentBytes = chunkBytes
        self.alignment = alignment
        largestShared = chunkBytes / 2
    }

    deinit {
        if let chunk { Self.letGo(chunk, bias: bias, room: room) }
        publish()
    }

    /// The order of the smallest block that holds `bytes`.
    @inlinable @inline(__always)
    public static func order(for bytes: Int) -> Int {
        if bytes <= Room.pageSize { return 0 }
        let pages = (bytes &+ Room.pageSize &- 1) &>> Room.pageShift
        return Int.bitWidth &- (pages &- 1).leadingZeroBitCount
    }

    /// A fragment of at least `bytes` (rounded up to the alignment), or nil
    /// when no chunk (or block) can be had. `bytes` at most 64 KiB.
    @inlinable @inline(__always)
    public mutating func allocate(_ bytes: Int, _ flags: GFP = .atomic) -> Fragment? {
        let size = (bytes &+ alignment &- 1) & ~(alignment &- 1)
        if _slowPath(size > largestShared) { return allocateOwnBlock(bytes, flags) }
        if _slowPath(chunk == nil || offset &+ size > currentBytes) {
            guard takeChunk(flags, size: size) else { return nil }
        }
        if _slowPath(offset & (alignment &- 1) != 0) {
            // The alignment grew since the last fragment.
            offset = (offset &+ alignment &- 1) & ~(alignment &- 1)
            if offset &+ size > currentBytes { guard takeChunk(flags, size: size) else { return nil } }
        }
        let base = chunk.unsafelyUnwrapped
        let at = offset
        lastOffset = at
        offset = at &+ size
        // Sizes are multiples of the alignment, and so is every offset
        // after the first of a chunk (the header is a cache line).
        bias &-= 1
        allocated &+= 1
        allocatedBytes &+= size
        return Fragment(
            address: base + at, block: base, core: room.core, bytes: Int32(truncatingIfNeeded: size),
            order: Int8(truncatingIfNeeded: currentOrder), shared: true)
    }

    /// A frame too large to share a chunk: a block of its own.
    @usableFromInline @inline(never)
    mutating func allocateOwnBlock(_ bytes: Int, _ flags: GFP) -> Fragment? {
        let order = Self.order(for: bytes)
        guard order <= Room.maxOrder, let page = room.allocate(order: order, flags) else { return nil }
        allocated &+= 1
        allocatedBytes &+= page.byteCount
        return Fragment(page)
    }

    /// Gives a fragment back on the owner's thread: to the bias when its
    /// chunk is the current one (rewinding the offset when it was the
    /// latest), else one atomic off its chunk's count.
    @inlinable @inline(__always)
    public mutating func free(_ fragment: consuming Fragment) {
        if _fastPath(fragment.shared && fragment.block == chunk) {
            let at = fragment.address - fragment.block
            bias &+= 1
            if at == lastOffset {
                offset = at
                lastOffset = Int.min
            }
            returned &+= 1
            returnedBytes &+= Int(fragment.bytes)
            fragment.forget()
            return
        }
        _ = consume fragment
    }

    /// Releases `count` fragments of one chunk at once (a written batch's
    /// run): one atomic for all of them. Owner only.
    public mutating func free(chunk block: UnsafeMutableRawPointer, fragments count: Int, bytes: Int) {
        guard count > 0 else { return }
        if block == chunk {
            bias &+= count
            lastOffset = Int.min
            returned &+= count
            returnedBytes &+= bytes
            return
        }
        room.counters.add(.fragmentsFreed, count)
        room.counters.add(.fragmentBytesFreed, bytes)
        if FragmentChunk.put(block, references: count) {
            room.counters.add(.chunksFreed, 1)
            room.release(address: block, order: FragmentChunk.order(block).pointee)
        }
    }

    /// The current chunk is full: what is left of the bias comes off its
    /// count, and the next chunk is taken (the same one again when every
    /// fragment of it is back already and it is a whole one). When the room
    /// cannot give a chunk of `chunkOrder`, the smallest block that holds
    /// the header and `size` bytes is taken instead.
    @usableFromInline @inline(never)
    mutating func takeChunk(_ flags: GFP, size: Int) -> Bool {
        if let old = chunk {
            if FragmentChunk.put(old, references: bias) {
                if currentOrder == chunkOrder {
                    // Every fragment came back: reuse it as it is.
                    FragmentChunk.count(old).pointee.store(fragmentBias, ordering: .relaxed)
                    bias = fragmentBias
                    offset = fragmentChunkHeaderBytes
                    lastOffset = Int.min
                    chunksReused &+= 1
                    return true
                }
                // A smaller one, taken under pressure, goes home: the next
                // tries the whole order again.
                room.counters.add(.chunksFreed, 1)
                room.release(address: old, order: currentOrder)
            }
            chunk = nil
        }
        // The whole chunk is a bonus, not a need: as page_frag asks for its
        // large block with __GFP_NOMEMALLOC | __GFP_NOWARN, the attempt never
        // dips into the reserve, waits or warns (a failure is still counted
        // at its order); the fallback, just large enough, asks with the
        // caller's flags.
        var order = chunkOrder
        var taken = room.allocate(order: order, [.nowait, .noWarn])
        if taken == nil {
            let smallest = Self.order(for: fragmentChunkHeaderBytes &+ size)
            if smallest < chunkOrder {
                order = smallest
                taken = room.allocate(order: order, flags)
                if taken != nil { chunksSmaller &+= 1 }
            }
        }
        guard let page = taken else { return false }
        let base = page.baseAddress
        _ = page.intoRaw()
        FragmentChunk.count(base).initialize(to: Atomic(fragmentBias))
        FragmentChunk.order(base).initialize(to: order)
        chunk = base
        currentOrder = order
        currentBytes = Room.pageSize &<< order
        bias = fragmentBias
        offset = fragmentChunkHeaderBytes
        lastOffset = Int.min
        chunksTaken &+= 1
        return true
    }

    /// Lets go of `old` (no longer current): the bias comes off its count,
    /// and the chunk goes home if nothing of it is out.
    mutating func retire(_ old: UnsafeMutableRawPointer) {
        Self.letGo(old, bias: bias, room: room)
        bias = 0
        chunk = nil
    }

    static func letGo(_ chunk: UnsafeMutableRawPointer, bias: Int, room: Room) {
        if FragmentChunk.put(chunk, references: bias) {
            room.counters.add(.chunksFreed, 1)
            room.release(address: chunk, order: FragmentChunk.order(chunk).pointee)
        }
    }

    /// Lets go of the current chunk now (at the end of a run, or before a
    /// leak check): its fragments still out keep it until they are back.
    public mutating func releaseCurrentChunk() {
        if let chunk { retire(chunk) }
        publish()
    }

    /// Publishes the cache's counts into the room's counters (between
    /// polls; readers see them with ``Room/stats``).
    public func publish() {
        let c = room.counters
        c.store(.fragmentsAllocated, allocated)
        c.store(.fragmentBytesAllocated, allocatedBytes)
        c.store(.fragmentsReturned, returned)
        c.store(.fragmentBytesReturned, returnedBytes)
        c.store(.chunksAllocated, chunksTaken)
        c.store(.chunksReused, chunksReused)
        c.store(.chunksSmaller, chunksSmaller)
    }
}
