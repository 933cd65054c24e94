/// Text that a client chose (a replay job's name, a path it asked for, a
/// filter) on its way into a log line, a job list or a report: the one
/// place where it is made inert. A client that names its job
/// `"x\n<0>FAKE\u{1b}[31m"` must not write a second journal line at
/// priority 0, nor colour an operator's terminal.
public enum ClientText {
    /// `text` with every control character (C0, DEL and C1) written as
    /// `\xNN`, and the Unicode line separators and bidirectional overrides
    /// as `\u{XXXX}`: one line, shown as sent, nothing a terminal or
    /// journald acts on. A backslash stays as it is, so that escaping twice
    /// (a job's report, then the log line that quotes it) changes nothing.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) {
                out += "\\x" + hex(v, width: 2)
            } else if needsEscape(scalar) {
                out += "\\u{" + hex(v, width: 4) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Whether a scalar is written as an escape.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F, 0x80...0x9F: return true
        // Line and paragraph separators; the bidirectional embeddings,
        // overrides and isolates (what "Trojan Source" uses).
        case 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        case 0..<0xA0: return false
        // Every other Bidi_Control (U+061C, U+200E, U+200F) and every
        // Default_Ignorable_Code_Point (U+200B, U+2060, U+FEFF, U+180E,
        // the variation selectors and tags, …): invisible, so a name can
        // hide what it is.
        default: return scalar.properties.isBidiControl || scalar.properties.isDefaultIgnorableCodePoint
        }
    }

    static func hex(_ v: UInt32, width: Int) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
