/// Sizes as an operator writes them for `-C/--rotate-size` and `min_free`.
public enum ByteSize {
    /// Parses a size into bytes.
    ///
    /// The grammar is `number [unit]`, with optional blanks around and
    /// between the two:
    /// - `number` is decimal digits, optionally with a `.` and more digits
    ///   (`1.5`). No sign, no exponent, no digit separators.
    /// - no unit: millions of bytes, as tcpdump's `-C` (`-C 100` is
    ///   100,000,000 bytes).
    /// - `B`: bytes; `KB`, `MB`, `GB`, `TB`: 10^3, 10^6, 10^9, 10^12 bytes;
    ///   `KiB`, `MiB`, `GiB`, `TiB`: 2^10, 2^20, 2^30, 2^40 bytes. Letters
    ///   match in any case (`mb`, `Mb`, `mib`, `MIB`): no size of a file is in
    ///   bits.
    /// - a lone `K`, `M`, `G` or `T` is refused as ambiguous (tcpdump reads
    ///   `100M` as 2^20-byte units, most people as 10^6): write `MB` or `MiB`.
    /// - a decimal is accepted when it comes to a whole number of bytes
    ///   (`1.5MB` is 1,500,000; `0.5KiB` is 512) and refused otherwise
    ///   (`1.1KiB`); at most 9 decimals after trailing zeros are dropped.
    ///
    /// - Parameter text: What the operator wrote.
    /// - Returns: The size in bytes, at least 1.
    /// - Throws: `ByteSizeError` for an empty, negative, zero, fractional,
    ///   malformed or too large size, or an unknown unit. Never traps.
    public static func parse(_ text: String) throws(ByteSizeError) -> Int {
        let bytes = Array(text.utf8)
        var i = 0
        func skipBlanks() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
        }
        skipBlanks()
        guard i < bytes.count else { throw .empty }
        if bytes[i] == UInt8(ascii: "-") { throw .negative(text) }

        // The number, as integer digits and significant decimals.
        var whole = 0
        var wholeOverflow = false
        var sawDigit = false
        while i < bytes.count, let d = digit(bytes[i]) {
            sawDigit = true
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(d)
            wholeOverflow = wholeOverflow || o1 || o2
            whole = a
            i += 1
        }
        var decimals: [Int] = []
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < bytes.count, let d = digit(bytes[i]) {
                sawDigit = true
                decimals.append(d)
                i += 1
            }
        }
        guard sawDigit else { throw .notANumber(text) }
        while decimals.last == 0 { decimals.removeLast() }
        guard decimals.count <= 9 else { throw .tooManyDecimals(text) }

        skipBlanks()
        let unitStart = i
        while i < bytes.count, isLetter(bytes[i]) { i += 1 }
        let unit = String(decoding: bytes[unitStart..<i], as: UTF8.self)
        skipBlanks()
        guard i == bytes.count else { throw .notANumber(text) }
        guard let multiplier = try multiplier(of: unit, in: text) else { throw .unknownUnit(unit: unit, text) }

        // value = (whole + fraction / 10^d) × multiplier, exact.
        var scale = 1
        var fraction = 0
        for d in decimals {
            scale *= 10
            fraction = fraction * 10 + d
        }
        guard !wholeOverflow else { throw .tooLarge(text) }
        let (wholeBytes, o1) = whole.multipliedReportingOverflow(by: multiplier)
        guard !o1 else { throw .tooLarge(text) }
        // fraction < 10^9 and multiplier ≤ 2^40: the product needs 71 bits.
        let fractionScaled = Int128(fraction) * Int128(multiplier)
        guard fractionScaled % Int128(scale) == 0 else { throw .notWholeBytes(text) }
        let (total, o2) = wholeBytes.addingReportingOverflow(Int(fractionScaled / Int128(scale)))
        guard !o2 else { throw .tooLarge(text) }
        guard total > 0 else { throw .zero(text) }
        return total
    }

    private static func digit(_ byte: UInt8) -> Int? {
        byte >= 0x30 && byte <= 0x39 ? Int(byte - 0x30) : nil
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A
    }

    /// Bytes per unit, nil for an unknown unit; throws for an ambiguous one.
    private static func multiplier(of unit: String, in text: String) throws(ByteSizeError) -> Int? {
        switch unit.lowercased() {
        case "": return 1_000_000
        case "b": return 1
        case "kb": return 1_000
        case "mb": return 1_000_000
        case "gb": return 1_000_000_000
        case "tb": return 1_000_000_000_000
        case "kib": return 1 << 10
        case "mib": return 1 << 20
        case "gib": return 1 << 30
        case "tib": return 1 << 40
        case "k", "m", "g", "t": throw .ambiguousUnit(unit: unit, text)
        default: return nil
        }
    }
}

/// Why `ByteSize.parse` refused a size; `description` is the message for the
/// operator.
public enum ByteSizeError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case notANumber(String)
    case negative(String)
    case zero(String)
    case tooManyDecimals(String)
    case notWholeBytes(String)
    case tooLarge(String)
    case unknownUnit(unit: String, String)
    case ambiguousUnit(unit: String, String)

    public var description: String {
        switch self {
        case .empty:
            return "empty size: write a number of millions of bytes, or a number with a unit (500MB, 1GiB)"
        case .notANumber(let t):
            return "'\(t)' is not a size: write a number of millions of bytes, or a number with a unit (500MB, 1GiB)"
        case .negative(let t):
            return "'\(t)': a size cannot be negative"
        case .zero(let t):
            return "'\(t)': a size must be at least one byte"
        case .tooManyDecimals(let t):
            return "'\(t)': at most 9 decimals"
        case .notWholeBytes(let t):
            return "'\(t)' is not a whole number of bytes"
        case .tooLarge(let t):
            return "'\(t)' is too large (at most \(Int.max) bytes)"
        case .unknownUnit(let unit, let t):
            return
                "'\(t)': unknown unit '\(unit)'; use B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (of 1024)"
        case .ambiguousUnit(let unit, let t):
            let u = unit.uppercased()
            return
                "'\(t)': '\(unit)' is ambiguous; write \(u)B (10^\(exponent(u)) bytes) or \(u)iB (2^\(exponent(u) / 3 * 10) bytes)"
        }
    }

    private func exponent(_ prefix: String) -> Int {
        switch prefix {
        case "K": return 3
        case "M": return 6
        case "G": return 9
        default: return 12
        }
    }
}
