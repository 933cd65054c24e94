import StatsProtocol
import Testing

@Suite("JSON")
struct JSONTests {
    @Test("escapes, numbers and nesting survive a round trip through the parser")
    func roundTrip() throws {
        let value: JSON = .object([
            ("plain", "abc"), ("quotes", "say \"hi\" \\ back"), ("controls", .string("a\u{0}b\u{1F}c\n\r\t")),
            ("unicode", "réseau ✓ 𝄞"), ("ints", .array([0, 7, -42, .int(Int.max), .int(Int.min)])),
            ("doubles", .array([.double(0.5), .double(-1e-9), .double(3), .double(.infinity)])),
            (
                "nested",
                .object([("empty_array", .array([])), ("empty_object", .object([])), ("null", .null), ("yes", true)])
            ),
        ])
        let text = value.text
        #expect(text.contains(#""controls":"a\u0000b\u001fc\n\r\t""#))
        #expect(text.contains(#""quotes":"say \"hi\" \\ back""#))
        #expect(text.contains("\"ints\":[0,7,-42,9223372036854775807,-9223372036854775808]"))
        #expect(!text.contains("\n"))
        let parsed = try JSON.parse(text)
        #expect(parsed["quotes"]?.stringValue == "say \"hi\" \\ back")
        #expect(parsed["controls"]?.stringValue == "a\u{0}b\u{1F}c\n\r\t")
        #expect(parsed["unicode"]?.stringValue == "réseau ✓ 𝄞")
        #expect(parsed["ints"]?.arrayValue?.compactMap(\.intValue) == [0, 7, -42, Int.max, Int.min])
        #expect(parsed["doubles"]?.arrayValue?[0].doubleValue == 0.5)
        #expect(parsed["doubles"]?.arrayValue?[1].doubleValue == -1e-9)
        #expect(parsed["doubles"]?.arrayValue?[3] == .null)
        #expect(parsed["nested"]?["yes"] == .bool(true))
        // Pretty text parses to the same value.
        #expect(try JSON.parse(value.prettyText).text == parsed.text)
        #expect(value.prettyText.contains("\n  \"plain\": \"abc\""))
    }
}
