#if canImport(Glibc)
import Glibc
#endif

/// IP addresses as text, in the canonical form `inet_ntop` gives (the form
/// SwiftNIO reports a peer's address in), so that `::1` and `0:0::1` match.
enum IPAddressText {
    /// The canonical text of an IPv4 or IPv6 literal; nil for anything else
    /// (a host name included: the metrics endpoint binds and allows
    /// addresses, never names).
    static func canonical(_ text: String) -> String? {
        var v4 = in_addr()
        var v6 = in6_addr()
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if inet_pton(AF_INET, text, &v4) == 1 {
            guard inet_ntop(AF_INET, &v4, &out, socklen_t(out.count)) != nil else { return nil }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            guard inet_ntop(AF_INET6, &v6, &out, socklen_t(out.count)) != nil else { return nil }
        } else {
            return nil
        }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
