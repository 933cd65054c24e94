/// A fixed-capacity array of noncopyable values, allocated once: appending
/// and removing never touch the heap, and elements are reached in place
/// (borrowed or mutated through their address). What swift-collections'
/// `RigidArray` is, without its module: Swift 6.3.1 crashes compiling
/// `BasicContainers` under the thread sanitizer ("Invalid bitcast" in
/// `_HTable+Bitmap.swift`), and the data plane must build with TSan. The
/// rooms' ``PageBatch`` and the workers' tables of sources and inboxes are
/// all this one type.
public struct FixedArray<Element: ~Copyable>: ~Copyable {
    @usableFromInline let storage: UnsafeMutablePointer<Element>
    public let capacity: Int
    @usableFromInline var _count = 0

    public init(capacity: Int) {
        precondition(capacity >= 0)
        self.capacity = capacity
        storage = .allocate(capacity: Swift.max(1, capacity))
    }

    deinit {
        storage.deinitialize(count: _count)
        storage.deallocate()
    }

    @inlinable public var count: Int { _count }
    @inlinable public var isEmpty: Bool { _count == 0 }

    /// Appends `element`; the array must have room.
    @inlinable
    public mutating func append(_ element: consuming Element) {
        precondition(_count < capacity, "FixedArray is full")
        (storage + _count).initialize(to: element)
        _count &+= 1
    }

    /// Removes and returns the last element, or nil when empty.
    @inlinable
    public mutating func popLast() -> Element? {
        guard _count > 0 else { return nil }
        _count &-= 1
        return (storage + _count).move()
    }

    /// Removes and returns the element at `index`, moving the last into its
    /// place (order is not kept; nothing else moves).
    @inlinable
    public mutating func swapRemove(at index: Int) -> Element {
        precondition(index >= 0 && index < _count, "index \(index) out of range 0..<\(_count)")
        _count &-= 1
        let element = (storage + index).move()
        if index != _count {
            (storage + index).moveInitialize(from: storage + _count, count: 1)
        }
        return element
    }

    /// The element at `index` (0..<count), in place.
    @inlinable
    public subscript(index: Int) -> Element {
        unsafeAddress {
            precondition(index >= 0 && index < _count, "index \(index) out of range 0..<\(_count)")
            return UnsafePointer(storage + index)
        }
        unsafeMutableAddress {
            precondition(index >= 0 && index < _count, "index \(index) out of range 0..<\(_count)")
            return storage + index
        }
    }
}

extension FixedArray: @unchecked Sendable where Element: Sendable & ~Copyable {}
