/// What the workers write to and read from besides their rooms: live
/// objects with threads and files of their own, owned by the run (the
/// ``Pipeline``, the daemon), not settings.
public struct WorkerAttachments: Sendable {
    /// The recording, when the run records frames.
    public var recorder: Recorder?
    /// The live taps' board, when the daemon allows taps.
    public var taps: TapBoard?

    public init(recorder: Recorder? = nil, taps: TapBoard? = nil) {
        self.recorder = recorder
        self.taps = taps
    }
}
