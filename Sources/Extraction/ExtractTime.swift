#if canImport(Glibc)
import Glibc
#endif

/// The times `extract` takes: seconds since the epoch with an optional
/// fraction (`1700000000.25`), or RFC 3339 (`2023-11-14T22:13:20.25Z`,
/// with `Z` or an offset such as `+01:00`). Exact to the nanosecond: no
/// floating point.
public enum ExtractTime {
    public static func parse(_ text: String) -> Int64? {
        let s = text.trimmingSpaces
        if let n = epoch(s) { return n }
        return rfc3339(s)
    }

    /// Seconds and up to nine fraction digits.
    static func epoch(_ s: Substring) -> Int64? {
        var rest = s
        var negative = false
        if rest.hasPrefix("-") {
            negative = true
            rest = rest.dropFirst()
        }
        let parts = rest.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit),
            let seconds = Int64(whole), seconds <= Int64.max / 1_000_000_000 - 1
        else { return nil }
        var ns: Int64 = 0
        if parts.count == 2 {
            guard let f = fraction(parts[1]) else { return nil }
            ns = f
        }
        let total = seconds * 1_000_000_000 + ns
        return negative ? -total : total
    }

    /// 1 to 9 digits as nanoseconds.
    static func fraction(_ digits: Substring) -> Int64? {
        guard (1...9).contains(digits.count), digits.allSatisfy(\.isASCIIDigit), var f = Int64(digits) else {
            return nil
        }
        for _ in digits.count..<9 { f *= 10 }
        return f
    }

    static func rfc3339(_ s: Substring) -> Int64? {
        let u = Array(s.utf8)
        func number(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= u.count else { return nil }
            var v = 0
            for c in u[at..<(at + count)] {
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard u.count >= 20, let year = number(0, 4), u[4] == 45, let month = number(5, 2), u[7] == 45,
            let day = number(8, 2), u[10] == 84 || u[10] == 116 || u[10] == 32, let hour = number(11, 2),
            u[13] == 58, let minute = number(14, 2), u[16] == 58, let second = number(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var at = 19
        var ns: Int64 = 0
        if at < u.count, u[at] == 46 {
            var end = at + 1
            while end < u.count, u[end] >= 48 && u[end] <= 57 { end += 1 }
            guard let f = fraction(String(decoding: u[(at + 1)..<end], as: UTF8.self)[...]) else { return nil }
            ns = f
            at = end
        }
        guard at < u.count else { return nil }
        var offset = 0
        if u[at] == 90 || u[at] == 122 {
            guard at + 1 == u.count else { return nil }
        } else if u[at] == 43 || u[at] == 45 {
            guard at + 6 == u.count, let h = number(at + 1, 2), u[at + 3] == 58, let m = number(at + 4, 2), h < 24,
                m < 60
            else { return nil }
            offset = (h * 60 + m) * 60 * (u[at] == 43 ? 1 : -1)
        } else {
            return nil
        }
        var t = tm()
        t.tm_year = Int32(year - 1900)
        t.tm_mon = Int32(month - 1)
        t.tm_mday = Int32(day)
        t.tm_hour = Int32(hour)
        t.tm_min = Int32(minute)
        t.tm_sec = Int32(second)
        let seconds = Int64(timegm(&t)) - Int64(offset)
        // timegm normalises 31 February to March: refuse what it moved.
        guard t.tm_mday == Int32(day), t.tm_mon == Int32(month - 1) else { return nil }
        return seconds * 1_000_000_000 + ns
    }

    /// `2023-11-14T22:13:20.250000000Z` and the epoch seconds, for reports.
    public static func format(_ ns: Int64) -> String {
        var seconds = time_t(ns / 1_000_000_000)
        var fraction = ns % 1_000_000_000
        if fraction < 0 {
            seconds -= 1
            fraction += 1_000_000_000
        }
        var t = tm()
        gmtime_r(&seconds, &t)
        let digits = String(fraction)
        let padded = String(repeating: "0", count: 9 - digits.count) + digits
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return
            "\(t.tm_year + 1900)-\(two(t.tm_mon + 1))-\(two(t.tm_mday))T\(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec)).\(padded)Z"
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    var trimmingSpaces: Substring {
        var s = self[...]
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
