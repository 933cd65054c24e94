/// A fixed-capacity stack of pages, for bulk allocation with
/// ``Room/refill(into:count:order:_:)``. Its storage is allocated once, at
/// creation; pushing and popping never touch the heap. Pages still in it are
/// freed when it goes away.
public struct PageBatch: ~Copyable, PageRefillTarget {
    @usableFromInline var pages: FixedArray<Page>

    public init(capacity: Int) {
        precondition(capacity > 0)
        pages = FixedArray(capacity: capacity)
    }

    @inlinable public var capacity: Int { pages.capacity }
    @inlinable public var count: Int { pages.count }
    @inlinable public var isEmpty: Bool { pages.isEmpty }
    @inlinable public var vacancies: Int { pages.capacity &- pages.count }

    @inlinable
    public mutating func accept(_ page: consuming Page) {
        pages.append(page)
    }

    /// Removes and returns the latest page, or nil when empty.
    @inlinable
    public mutating func popLast() -> Page? {
        pages.popLast()
    }

    /// Removes and returns the page at `index`, moving the last page into its
    /// place.
    @inlinable
    public mutating func swapRemove(at index: Int) -> Page {
        pages.swapRemove(at: index)
    }

    /// The bytes of the page at `index`.
    @inlinable
    public func bytes(at index: Int) -> UnsafeMutableRawBufferPointer {
        pages[index].bytes
    }

    /// The order of the page at `index`.
    @inlinable
    public func order(at index: Int) -> Int {
        pages[index].order
    }

    /// Calls `body` with each page's bytes, oldest first.
    @inlinable
    public func forEachBytes(_ body: (UnsafeMutableRawBufferPointer) -> Void) {
        for i in 0..<pages.count { body(pages[i].bytes) }
    }
}
