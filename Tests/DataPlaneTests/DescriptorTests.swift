import Syscalls
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The descriptor owner: every descriptor closes exactly once, when its
/// owner goes or says so, and never when it was handed on.
@Suite("Descriptor: the one owner of a file descriptor")
struct DescriptorTests {
    static func isOpen(_ fd: CInt) -> Bool { fcntl(fd, F_GETFD) >= 0 }

    @Test("closed when the owner goes; close() reports; take() moves; release() hands on")
    func lifecycle() throws {
        var raw: CInt = -1
        do {
            let owned = try Descriptor.open("/dev/null", O_RDONLY | O_CLOEXEC).get()
            raw = owned.rawValue
            #expect(Self.isOpen(raw))
        }
        #expect(!Self.isOpen(raw), "the owner's end closes it")

        let early = try Descriptor.open("/dev/null", O_RDONLY | O_CLOEXEC).get()
        raw = early.rawValue
        let closed = early.close()
        #expect((try? closed.get()) != nil)
        #expect(!Self.isOpen(raw))

        var holder = try Descriptor.open("/dev/null", O_RDONLY | O_CLOEXEC).get()
        raw = holder.rawValue
        let moved = holder.take()
        #expect(!holder.isOpen && moved.rawValue == raw)
        holder = Descriptor(adopting: -1)  // replacing an empty owner closes nothing
        #expect(Self.isOpen(raw))
        let handed = moved.release()
        #expect(Self.isOpen(handed), "released: the new owner's to close")
        #expect(Glibc.close(handed) == 0)
    }

    @Test("opening what cannot be opened keeps the Errno")
    func failure() {
        switch Descriptor.open("/nonexistent/labyrinth", O_RDONLY) {
        case .success: Issue.record("opened a path that does not exist")
        case .failure(let e): #expect(e == .noSuchFileOrDirectory)
        }
        #expect(Errno.behind(Errno.permissionDenied) == .permissionDenied)
    }

    @Test("a shared descriptor closes with its last reference")
    func shared() throws {
        var raw: CInt = -1
        do {
            let shared = SharedDescriptor(try Descriptor.open("/dev/null", O_RDONLY | O_CLOEXEC).get())
            raw = shared.rawValue
            let second = shared
            #expect(Self.isOpen(second.rawValue))
        }
        #expect(!Self.isOpen(raw))
    }
}
