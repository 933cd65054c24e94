import StatsProtocol
import Testing

@Suite("Client text in logs and job lists")
struct ClientTextTests {
    @Test(
        "control characters become \\xNN, separators and bidi overrides \\u{XXXX}; the rest stays",
        arguments: [
            ("x\n<0>FAKE\u{1b}[31m", #"x\x0A<0>FAKE\x1B[31m"#),
            ("tab\there\r", #"tab\x09here\x0D"#),
            ("nul\u{0}del\u{7f}c1\u{85}", #"nul\x00del\x7Fc1\x85"#),
            ("line\u{2028}sep\u{202E}rtl", #"line\u{2028}sep\u{202E}rtl"#),
            // The rest of Bidi_Control, and Default_Ignorable_Code_Point.
            ("lrm\u{200E}rlm\u{200F}alm\u{061C}", #"lrm\u{200E}rlm\u{200F}alm\u{061C}"#),
            ("zw\u{200B}wj\u{2060}bom\u{FEFF}mvs\u{180E}", #"zw\u{200B}wj\u{2060}bom\u{FEFF}mvs\u{180E}"#),
            ("shy\u{00AD}vs\u{FE0F}tag\u{E0041}", #"shy\u{00AD}vs\u{FE0F}tag\u{E0041}"#),
            ("/srv/pcap/ok-file_1.pcap", "/srv/pcap/ok-file_1.pcap"),
            ("naïve ✓ back\\slash", "naïve ✓ back\\slash"),
        ])
    func escapes(_ text: String, _ expected: String) {
        let escaped = ClientText.escaped(text)
        #expect(escaped == expected)
        // One line, nothing a terminal acts on, and escaping twice changes
        // nothing (a report's text quoted in a log line).
        #expect(!escaped.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        #expect(ClientText.escaped(escaped) == escaped)
    }
}
