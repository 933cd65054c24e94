/// FuzzTOML only: `WorkerOptions` names the recorder, which parsing a
/// configuration never touches; this stands in for the real one (and its
/// io_uring, threads and files).
public final class Recorder: Sendable {}
