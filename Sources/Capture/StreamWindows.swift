import Syscalls

#if canImport(Glibc)
import Glibc
#endif

/// Two windows of a file read with `pread`, used in turn by a
/// ``CaptureFileReader`` that may not map its file. The reader keeps a
/// look-ahead of unread bytes (the largest record it accepts) in the current
/// window; when less is left, the unread tail moves to the start of the
/// other window, which is filled up behind it. Records handed out point into
/// the current window; `onSlide` runs before a window is refilled, so that
/// the caller can wait until nothing uses the records of its last turn.
public final class StreamWindows: @unchecked Sendable {
    /// 24 MiB a window: a look-ahead of 16 MiB + 256 KiB (pcapng's largest
    /// block, libpcap's) and reads of 8 MiB at least.
    public static let defaultWindowBytes = 24 << 20

    let descriptor: Int32
    let windowBytes: Int
    /// Unread bytes the current window keeps before the reader moves on.
    @usableFromInline let lookahead: Int
    let windows: (UnsafeMutableRawPointer, UnsafeMutableRawPointer)
    var current = 0
    /// The file offset of the next read.
    var fileOffset: Int64 = 0
    /// The file has no more bytes (a read returned 0).
    @usableFromInline var atEnd = false
    /// Runs before each read with the bytes it will read (as far as the
    /// file's size tells), and after it with any more that it did read: a
    /// bound on the reads (`extract --read-rate`) sees every byte.
    let onRead: (Int) -> Void
    let onSlide: () -> Void
    /// The file's size at the start, or as far as reads have gone since.
    var knownSize: Int64

    init(
        descriptor: Int32, windowBytes: Int, onRead: @escaping (Int) -> Void, onSlide: @escaping () -> Void
    ) {
        self.descriptor = descriptor
        self.windowBytes = Swift.max(windowBytes, 64 << 10)
        lookahead = Swift.min((16 << 20) + (256 << 10), self.windowBytes / 3 * 2)
        windows = (
            .allocate(byteCount: self.windowBytes, alignment: 4096),
            .allocate(byteCount: self.windowBytes, alignment: 4096)
        )
        self.onRead = onRead
        self.onSlide = onSlide
        var st = stat()
        knownSize = fstat(descriptor, &st) == 0 ? Int64(st.st_size) : 0
    }

    deinit {
        windows.0.deallocate()
        windows.1.deallocate()
    }

    /// Fills the first window from the file's start.
    func fillFirst(name: String) throws(CaptureFileError) -> (UnsafeMutableRawPointer, Int) {
        do throws(Errno) {
            return (windows.0, try fill(windows.0, from: 0))
        } catch {
            throw CaptureFileError(file: name, offset: 0, message: "cannot read: \(error)")
        }
    }

    /// Copies the `count` unread bytes at `tail` to the other window, fills
    /// it up behind them, and makes it current.
    func slide(keeping tail: UnsafeRawPointer, count: Int) throws(Errno) -> (UnsafeMutableRawPointer, Int) {
        onSlide()
        let next = current == 0 ? windows.1 : windows.0
        next.copyMemory(from: tail, byteCount: count)
        let filled = try fill(next, from: count)
        current ^= 1
        return (next, filled)
    }

    /// Reads into `window` from `start` until it is full or the file ends;
    /// returns the bytes in the window.
    private func fill(_ window: UnsafeMutableRawPointer, from start: Int) throws(Errno) -> Int {
        var filled = start
        while filled < windowBytes && !atEnd {
            let expected = Int(Swift.min(Int64(windowBytes - filled), Swift.max(0, knownSize - fileOffset)))
            if expected > 0 { onRead(expected) }
            let n = try Syscall.valueOrErrno {
                pread(descriptor, window + filled, windowBytes - filled, off_t(fileOffset))
            }.get()
            if n > expected { onRead(n - expected) }
            if n == 0 {
                atEnd = true
            } else {
                filled += n
                fileOffset += Int64(n)
                knownSize = Swift.max(knownSize, fileOffset)
            }
        }
        return filled
    }
}
