/// One allocated block of 2^order contiguous pages from a room.
///
/// A `Page` is the only handle to its memory. It cannot be copied, so it
/// cannot be freed twice: freeing consumes it. Dropping it frees it too, on
/// the owner's fast path when the owner drops it, and through the room's
/// lock-free inbox when another thread does.
@frozen
public struct Page: ~Copyable, @unchecked Sendable {
    @usableFromInline let address: UnsafeMutableRawPointer
    @usableFromInline let core: UnsafeMutablePointer<RoomCore>
    @usableFromInline let _order: Int

    @inlinable @inline(__always)
    init(address: UnsafeMutableRawPointer, core: UnsafeMutablePointer<RoomCore>, order: Int) {
        self.address = address
        self.core = core
        self._order = order
    }

    /// The block's order: it spans 2^order pages.
    @inlinable public var order: Int { _order }

    /// The block's size in bytes: `Room.pageSize << order`.
    @inlinable public var byteCount: Int { Room.pageSize &<< _order }

    /// The index of the room the block belongs to.
    @inlinable public var roomIndex: Int { core.pointee.index }

    /// The block's first byte. Valid until the page is freed.
    @inlinable public var baseAddress: UnsafeMutableRawPointer { address }

    /// The block's bytes. Valid until the page is freed; do not keep them.
    @inlinable public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: address, count: byteCount)
    }

    /// Calls `body` with the block's bytes.
    @inlinable
    public func withUnsafeMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(bytes)
    }

    /// Gives up the handle without freeing the block, for handing it to the
    /// kernel (an io_uring provided-buffer ring). Get it back with
    /// ``Room/adopt(_:)``; until then the block counts as in use.
    @inlinable
    public consuming func intoRaw() -> RawPage {
        let raw = RawPage(address: address, order: _order, roomIndex: core.pointee.index)
        discard self
        return raw
    }

    @inlinable @inline(__always)
    consuming func forget() {
        discard self
    }

    @inlinable
    deinit {
        Room(core: core).release(address: address, order: _order)
    }
}

/// A block given up with ``Page/intoRaw()``: a plain address and order that
/// can sit in a kernel ring. ``Room/adopt(_:)`` turns it back into a `Page`.
public struct RawPage: Sendable, Hashable {
    public let addressBits: UInt
    public let order: Int
    public let roomIndex: Int

    @inlinable
    public init(address: UnsafeMutableRawPointer, order: Int, roomIndex: Int) {
        self.addressBits = UInt(bitPattern: address)
        self.order = order
        self.roomIndex = roomIndex
    }

    @inlinable
    public var address: UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: addressBits)!
    }
}
