/// Numbers and tables for people, without Foundation: shared by the
/// reports, the daemon's STATUS= line and labyrinthctl.
public enum TextFormat {
    /// `x` with `digits` decimals (0...9). Values too large for a fixed
    /// notation print as Swift prints them.
    public static func fixed(_ x: Double, _ digits: Int) -> String {
        let digits = Swift.min(Swift.max(digits, 0), 9)
        guard x.isFinite, abs(x) < 1e15 else { return "\(x)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(x) * scale).rounded()
        let whole = Int(scaled / scale)
        if digits == 0 { return (x < 0 && whole != 0 ? "-" : "") + String(whole) }
        var frac = String(Int(scaled) - whole * Int(scale))
        while frac.count < digits { frac = "0" + frac }
        return (x < 0 ? "-" : "") + "\(whole).\(frac)"
    }

    /// `s` padded with spaces on the right to `width`.
    public static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// `n` padded with spaces on the left to `width`.
    public static func lpad(_ n: Int, _ width: Int) -> String { lpad(String(n), width) }

    /// `s` padded with spaces on the left to `width`.
    public static func lpad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    /// A duration the way `uptime` reads: `42.5s`, `3m12s`, `5h3m`, `2d4h`.
    public static func duration(_ s: Double) -> String {
        guard s.isFinite, s < 1e15 else { return "\(s)s" }
        let t = Int(Swift.max(0, s))
        if t < 60 { return "\(fixed(s, 1))s" }
        if t < 3600 { return "\(t / 60)m\(t % 60)s" }
        if t < 86400 { return "\(t / 3600)h\((t % 3600) / 60)m" }
        return "\(t / 86400)d\((t % 86400) / 3600)h"
    }
}

/// A plain text table: headers, then rows; numbers right-aligned.
public struct TextTable: Sendable {
    public var headers: [String]
    public var rows: [[String]]

    public init(_ headers: [String], _ rows: [[String]]) {
        self.headers = headers
        self.rows = rows
    }

    public var text: String {
        var widths = headers.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: max(0, (i < widths.count ? widths[i] : 0) - c.count))
                return Int(c) != nil || c == "-" ? pad + c : c + pad
            }.joined(separator: "  ")
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}
