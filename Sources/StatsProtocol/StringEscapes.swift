/// Quoted strings with backslash escapes, read once for the two dialects
/// the daemon parses: JSON requests (RFC 8259) and TOML basic strings
/// (TOML 1.0). Used by `JSON.parse` and by ControlPlane's TOML reader; not
/// part of the public API.
package enum StringEscapes {
    package enum Dialect: Sendable {
        /// RFC 8259: `\" \\ \/ \b \f \n \r \t \uXXXX`, a character beyond
        /// U+FFFF as a surrogate pair of `\u` escapes; every control
        /// character (U+0000–U+001F) must be escaped.
        case json
        /// TOML 1.0 basic strings: `\" \\ \b \f \n \r \t \uXXXX \UXXXXXXXX`
        /// naming Unicode scalar values (no surrogates); control characters
        /// other than tab must be escaped, and the string ends on its line.
        case toml
    }

    /// Why a string could not be read, and the byte offset of the problem.
    package struct Failure: Error, Sendable, Equatable {
        package var offset: Int
        package var message: String
    }

    /// Reads the quoted string whose opening `"` is at `bytes[start]`.
    /// Returns it decoded, and the index just past its closing quote.
    /// `bytes` must be valid UTF-8 (they come from a `String`).
    package static func decode(
        _ bytes: [UInt8], openingQuoteAt start: Int, dialect: Dialect
    ) throws(Failure) -> (string: String, end: Int) {
        var at = start + 1
        var run = at  // the start of the plain bytes not yet copied to `out`
        var out: [UInt8] = []
        while at < bytes.count {
            let b = bytes[at]
            if b == UInt8(ascii: "\"") {
                if out.isEmpty { return (String(decoding: bytes[run..<at], as: UTF8.self), at + 1) }
                out.append(contentsOf: bytes[run..<at])
                return (String(decoding: out, as: UTF8.self), at + 1)
            }
            if b == UInt8(ascii: "\\") {
                out.append(contentsOf: bytes[run..<at])
                at = try escape(bytes, at, dialect, into: &out)
                run = at
                continue
            }
            if b == 0x0A && dialect == .toml {
                throw Failure(offset: at, message: "unterminated string (a basic string ends on its line)")
            }
            if b < 0x20 && !(b == 0x09 && dialect == .toml) || b == 0x7F && dialect == .toml {
                throw Failure(
                    offset: at, message: "control character U+\(hex(UInt32(b), width: 4)) in a string; escape it")
            }
            at += 1
        }
        throw Failure(offset: bytes.count, message: "unterminated string")
    }

    /// Decodes the escape whose backslash is at `bytes[at]` onto `out`;
    /// returns the index after it.
    static func escape(
        _ bytes: [UInt8], _ at: Int, _ dialect: Dialect, into out: inout [UInt8]
    ) throws(Failure) -> Int {
        guard at + 1 < bytes.count else { throw Failure(offset: at, message: "unterminated string") }
        let e = bytes[at + 1]
        let scalar: Unicode.Scalar
        var next = at + 2
        switch e {
        case UInt8(ascii: "\""): scalar = "\""
        case UInt8(ascii: "\\"): scalar = "\\"
        case UInt8(ascii: "/") where dialect == .json: scalar = "/"
        case UInt8(ascii: "b"): scalar = "\u{08}"
        case UInt8(ascii: "f"): scalar = "\u{0C}"
        case UInt8(ascii: "n"): scalar = "\n"
        case UInt8(ascii: "r"): scalar = "\r"
        case UInt8(ascii: "t"): scalar = "\t"
        case UInt8(ascii: "u"):
            let code = try hexDigits(bytes, next, count: 4, escapeAt: at)
            next += 4
            switch (code, dialect) {
            case (0xD800...0xDBFF, .json):
                // A high surrogate: the next escape must be its low half.
                guard next + 1 < bytes.count, bytes[next] == UInt8(ascii: "\\"), bytes[next + 1] == UInt8(ascii: "u")
                else {
                    throw Failure(
                        offset: at,
                        message: "lone surrogate \\u\(hex(code, width: 4)): a high surrogate must be followed by"
                            + " a low one (\\uDC00-\\uDFFF)")
                }
                let low = try hexDigits(bytes, next + 2, count: 4, escapeAt: next)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw Failure(
                        offset: next,
                        message: "\\u\(hex(code, width: 4)) is a high surrogate but \\u\(hex(low, width: 4))"
                            + " is not a low one (\\uDC00-\\uDFFF)")
                }
                next += 6
                // Both halves are in range: 0x10000...0x10FFFF, a valid scalar.
                scalar = Unicode.Scalar(0x10000 + (code - 0xD800) << 10 + (low - 0xDC00)) ?? "\u{FFFD}"
            case (0xDC00...0xDFFF, .json):
                throw Failure(
                    offset: at, message: "lone surrogate \\u\(hex(code, width: 4)): a low surrogate without a high one")
            default:
                guard let s = Unicode.Scalar(code) else {
                    throw Failure(
                        offset: at, message: "\\u\(hex(code, width: 4)) is a surrogate, not a Unicode scalar value")
                }
                scalar = s
            }
        case UInt8(ascii: "U") where dialect == .toml:
            let code = try hexDigits(bytes, next, count: 8, escapeAt: at)
            next += 8
            guard let s = Unicode.Scalar(code) else {
                throw Failure(offset: at, message: "\\U\(hex(code, width: 8)) is not a Unicode scalar value")
            }
            scalar = s
        default:
            throw Failure(offset: at, message: "invalid escape \(describe(e, after: "\\"))")
        }
        UTF8.encode(scalar) { out.append($0) }
        return next
    }

    /// Exactly `count` hex digits at `bytes[at...]`.
    static func hexDigits(_ bytes: [UInt8], _ at: Int, count: Int, escapeAt: Int) throws(Failure) -> UInt32 {
        let letter = count == 4 ? "u" : "U"
        guard at + count <= bytes.count else {
            throw Failure(offset: escapeAt, message: "\\\(letter) needs \(count) hex digits")
        }
        var value: UInt32 = 0
        for i in at..<at + count {
            let c = bytes[i]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c &- UInt8(ascii: "0"))
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c &- UInt8(ascii: "A") &+ 10)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c &- UInt8(ascii: "a") &+ 10)
            default:
                throw Failure(
                    offset: i, message: "\\\(letter) needs \(count) hex digits, found \(describe(c, after: ""))")
            }
            value = value << 4 | digit  // at most 8 digits: fits 32 bits
        }
        return value
    }

    /// `'x'` for a printable ASCII byte, else its value in hex.
    static func describe(_ b: UInt8, after prefix: String) -> String {
        if (0x21..<0x7F).contains(b) { return "'\(prefix)\(Character(Unicode.Scalar(b)))'" }
        let byte = "byte 0x\(hex(UInt32(b), width: 2))"
        return prefix.isEmpty ? byte : "'\(prefix)' followed by \(byte)"
    }

    static func hex(_ v: UInt32, width: Int) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
