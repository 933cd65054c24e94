import StatsProtocol
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Raises the soft open-file limit to the hard one (for many clients).
func raiseFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
