import DataPlane
import Sinks
import Syscalls
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A recording's mode and group are what let the operators' group read it:
/// when the group cannot be given, the recording does not start (and says
/// why), rather than writing files only their owner reads.
@Suite("Recording files: their mode and group")
struct RecorderOwnershipTests {
    @Test("a group the process may not give stops the recording at start, naming the file and the group, keeping EPERM")
    func groupRefused() async {
        await #expect(processExitsWith: .success) {
            // As nobody (no member of group 0, no CAP_CHOWN), in a directory
            // of nobody's (under the scratch root: removed at the end of the
            // run even when a check below fails first).
            let directory = temporaryDirectory("owner")
            guard chown(directory, 65534, 65534) == 0 else { exit(9) }
            guard setgroups(0, nil) == 0, setgid(65534) == 0, setuid(65534) == 0 else { exit(10) }
            var options = RecordingOptions(
                naming: try FileNaming(
                    template: directory + "/run.pcapng", workers: 1, rotation: RotationConfiguration()))
            options.group = 0
            do {
                _ = try Recorder(options: options)
                exit(11)  // it started
            } catch {
                let text = "\(error)"
                guard text.contains("run.pcapng") && text.contains("group 0") else { exit(12) }
                // The kernel's answer is kept, not only its text.
                guard (error as? RecordingError)?.errno == Errno.notPermitted else { exit(16) }
            }
            // Nothing left behind: no .part file.
            guard let dir = opendir(directory) else { exit(13) }
            var left = 0
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." { left += 1 }
            }
            closedir(dir)
            // The directory itself goes with the scratch root (nobody may
            // not remove it from root's).
            exit(left == 0 ? 0 : 14)
        }
    }
}
