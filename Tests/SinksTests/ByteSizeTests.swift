import Sinks
import Testing

@Suite("ByteSize: -C/--rotate-size and min_free")
struct ByteSizeTests {
    @Test(
        "accepted sizes",
        arguments: [
            ("1", 1_000_000),
            ("100", 100_000_000),
            ("  100  ", 100_000_000),
            ("1.5", 1_500_000),
            ("0.000001", 1),
            ("500B", 500),
            ("500 b", 500),
            ("1KB", 1_000),
            ("1kb", 1_000),
            ("1kB", 1_000),
            ("2MB", 2_000_000),
            ("2 Mb", 2_000_000),
            ("3GB", 3_000_000_000),
            ("1TB", 1_000_000_000_000),
            ("1KiB", 1024),
            ("1kib", 1024),
            ("1KIB", 1024),
            ("64MiB", 64 << 20),
            ("4GiB", 4 << 30),
            ("2TiB", 2 << 40),
            ("1.5MB", 1_500_000),
            ("1.50MB", 1_500_000),
            ("0.5KiB", 512),
            ("1.25 KiB", 1280),
            ("0.9765625KiB", 1000),
            ("9223372036854775807B", Int.max),
            ("8388607TiB", 8_388_607 << 40),
            ("007", 7_000_000),
        ])
    func accepted(text: String, bytes: Int) throws {
        #expect(try ByteSize.parse(text) == bytes)
    }

    @Test(
        "refused sizes, each with its reason",
        arguments: [
            ("", ByteSizeError.empty),
            ("   ", .empty),
            ("MB", .notANumber("MB")),
            (".", .notANumber(".")),
            ("1.2.3", .notANumber("1.2.3")),
            ("1 000", .notANumber("1 000")),
            ("1_000", .notANumber("1_000")),
            ("+5", .notANumber("+5")),
            ("1e6", .notANumber("1e6")),
            ("5 MB x", .notANumber("5 MB x")),
            ("١٢", .notANumber("١٢")),
            ("-1", .negative("-1")),
            ("-0", .negative("-0")),
            ("0", .zero("0")),
            ("0.0", .zero("0.0")),
            ("0KiB", .zero("0KiB")),
            ("0.0000001", .notWholeBytes("0.0000001")),
            ("1.1KiB", .notWholeBytes("1.1KiB")),
            ("0.5B", .notWholeBytes("0.5B")),
            ("1.0000000001", .tooManyDecimals("1.0000000001")),
            ("9223372036854775808B", .tooLarge("9223372036854775808B")),
            ("9223372036854775807", .tooLarge("9223372036854775807")),
            ("99999999999999999999999999", .tooLarge("99999999999999999999999999")),
            ("8388608TiB", .tooLarge("8388608TiB")),
            ("9223372036854775807.5B", .notWholeBytes("9223372036854775807.5B")),
            ("10 MiBs", .unknownUnit(unit: "MiBs", "10 MiBs")),
            ("10 bytes", .unknownUnit(unit: "bytes", "10 bytes")),
            ("10PB", .unknownUnit(unit: "PB", "10PB")),
            ("100M", .ambiguousUnit(unit: "M", "100M")),
            ("100k", .ambiguousUnit(unit: "k", "100k")),
            ("1G", .ambiguousUnit(unit: "G", "1G")),
        ])
    func refused(text: String, error: ByteSizeError) {
        #expect(throws: error) { try ByteSize.parse(text) }
    }

    @Test("messages tell the operator what to write")
    func messages() {
        #expect(
            ByteSizeError.ambiguousUnit(unit: "M", "100M").description.contains(
                "write MB (10^6 bytes) or MiB (2^20 bytes)"))
        #expect(
            ByteSizeError.ambiguousUnit(unit: "k", "1k").description.contains(
                "write KB (10^3 bytes) or KiB (2^10 bytes)"))
        #expect(ByteSizeError.unknownUnit(unit: "PB", "1PB").description.contains("KiB, MiB, GiB, TiB"))
        #expect(ByteSizeError.zero("0").description == "'0': a size must be at least one byte")
    }

    @Test("no input traps: every short string over a small alphabet parses or throws")
    func exhaustiveShortStrings() {
        let alphabet: [Character] = ["0", "1", "9", ".", "-", " ", "k", "M", "i", "B", "x"]
        var accepted = 0
        func visit(_ prefix: String, _ depth: Int) {
            if depth == 0 { return }
            for c in alphabet {
                let s = prefix + String(c)
                if let n = try? ByteSize.parse(s) {
                    accepted += 1
                    // What is accepted is a positive size, with no sign and
                    // no stray letter, and leading blanks change nothing.
                    #expect(n > 0, "\(s)")
                    #expect(!s.contains("-") && !s.contains("x"), "\(s) accepted as \(n)")
                    #expect((try? ByteSize.parse(" " + s)) == n, "\(s)")
                }
                visit(s, depth - 1)
            }
        }
        visit("", 5)
        // Some of them are sizes ("10", "1.5k", "9MiB"...).
        #expect(accepted > 0)
    }
}
