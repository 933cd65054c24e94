/// A fixed-capacity stack of pages, for bulk allocation with
/// ``Room/refill(into:count:order:_:)``. Its storage is allocated once, at
/// creation; pushing and popping never touch the heap. Pages still in it are
/// freed when it goes away.
public struct PageBatch: ~Copyable, PageRefillTarget {
    @usableFromInline let storage: UnsafeMutablePointer<Page>
    public let capacity: Int
    @usableFromInline var _count: Int

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        _count = 0
    }

    deinit {
        storage.deinitialize(count: _count)
        storage.deallocate()
    }

    @inlinable public var count: Int { _count }
    @inlinable public var isEmpty: Bool { _count == 0 }
    @inlinable public var vacancies: Int { capacity &- _count }

    @inlinable
    public mutating func accept(_ page: consuming Page) {
        precondition(_count < capacity, "PageBatch is full")
        (storage + _count).initialize(to: page)
        _count &+= 1
    }

    /// Removes and returns the latest page, or nil when empty.
    @inlinable
    public mutating func popLast() -> Page? {
        if _count == 0 { return nil }
        _count &-= 1
        return (storage + _count).move()
    }

    /// Removes and returns the page at `index`, moving the last page into its
    /// place.
    @inlinable
    public mutating func swapRemove(at index: Int) -> Page {
        precondition(index >= 0 && index < _count, "index \(index) out of range 0..<\(_count)")
        _count &-= 1
        let page = (storage + index).move()
        if index != _count {
            (storage + index).moveInitialize(from: storage + _count, count: 1)
        }
        return page
    }

    /// The bytes of the page at `index`.
    @inlinable
    public func bytes(at index: Int) -> UnsafeMutableRawBufferPointer {
        precondition(index >= 0 && index < _count, "index \(index) out of range 0..<\(_count)")
        return storage[index].bytes
    }

    /// The order of the page at `index`.
    @inlinable
    public func order(at index: Int) -> Int {
        precondition(index >= 0 && index < _count, "index \(index) out of range 0..<\(_count)")
        return storage[index].order
    }

    /// Calls `body` with each page's bytes, oldest first.
    @inlinable
    public func forEachBytes(_ body: (UnsafeMutableRawBufferPointer) -> Void) {
        for i in 0..<_count { body(storage[i].bytes) }
    }
}
