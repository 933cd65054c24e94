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

    /// Parses `text` and returns the error it must raise.
    func refusal(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> JSONParseError? {
        do {
            let value = try JSON.parse(text)
            Issue.record("accepted as \(value)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        var text: String
        var offset: Int
        var phrase: String
        var testDescription: String { text }
    }

    static let badStrings: [Refused] = [
        // A high surrogate combined with anything used to trap (low - 0xDC00 overflowed).
        Refused(text: #"{"command":"\ud800\u0000"}"#, offset: 18, phrase: "is not a low one"),
        Refused(text: #""\ud800\ud800""#, offset: 7, phrase: "is not a low one"),
        Refused(text: #""\uDBFF\uE000""#, offset: 7, phrase: "is not a low one"),
        Refused(text: #""\ud800""#, offset: 1, phrase: "lone surrogate"),
        Refused(text: #""\ud800x""#, offset: 1, phrase: "lone surrogate"),
        Refused(text: #""\ud800\n""#, offset: 1, phrase: "lone surrogate"),
        Refused(text: #""\ud800\""#, offset: 1, phrase: "lone surrogate"),
        Refused(text: #""\udc00""#, offset: 1, phrase: "a low surrogate without a high one"),
        Refused(text: #""a\udfff\ud800""#, offset: 2, phrase: "a low surrogate without a high one"),
        Refused(text: #""\ud800\u12""#, offset: 7, phrase: "needs 4 hex digits"),
        Refused(text: #""\ud800\u12G4""#, offset: 11, phrase: "found 'G'"),
        Refused(text: #""\u+0FF""#, offset: 3, phrase: "found '+'"),
        Refused(text: #""\u00""#, offset: 1, phrase: "needs 4 hex digits"),
        Refused(text: #""\U0001F600""#, offset: 1, phrase: #"invalid escape '\U'"#),
        Refused(text: #""\x41""#, offset: 1, phrase: #"invalid escape '\x'"#),
        Refused(text: "\"tab\there\"", offset: 4, phrase: "control character U+0009"),
        Refused(text: "\"a\nb\"", offset: 2, phrase: "control character U+000A"),
        Refused(text: #""abc"#, offset: 4, phrase: "unterminated string"),
        Refused(text: #""abc\"#, offset: 4, phrase: "unterminated string"),
    ]

    @Test("bad strings and escapes are errors naming their offset", arguments: badStrings)
    func badString(_ c: Refused) throws {
        let error = try #require(refusal(c.text))
        #expect(error.offset == c.offset, "\(error)")
        #expect(error.message.contains(c.phrase), "\(error)")
    }

    @Test(
        "escapes decode, surrogate pairs included",
        arguments: [
            (#""\ud83d\ude00""#, "😀"), (#""\uD834\uDD1E""#, "𝄞"), (#""\u00e9t\u00C9""#, "étÉ"), (#""\/\\\"""#, "/\\\""),
            (#""\b\f\n\r\t""#, "\u{8}\u{C}\n\r\t"), (#""\u0000""#, "\u{0}"), (#""\uFFFF""#, "\u{FFFF}"),
            (#""plain ✓""#, "plain ✓"), (#""""#, ""), (#""a\u0041b""#, "aAb"),
        ])
    func goodString(_ text: String, _ expected: String) throws {
        #expect(try JSON.parse(text) == .string(expected))
    }

    static let badNumbers: [Refused] = [
        Refused(text: "1e309", offset: 0, phrase: "does not fit a 64-bit float"),
        Refused(text: "-1e400", offset: 0, phrase: "does not fit a 64-bit float"),
        Refused(text: "[1, 2.5e99999999999999999999]", offset: 4, phrase: "does not fit"),
        Refused(text: "1" + String(repeating: "0", count: 400), offset: 0, phrase: "does not fit"),
        Refused(text: "01", offset: 1, phrase: "leading zeros"),
        Refused(text: "-01", offset: 2, phrase: "leading zeros"),
        Refused(text: "1.", offset: 2, phrase: "expected a digit after '.'"),
        Refused(text: "1.e5", offset: 2, phrase: "expected a digit after '.'"),
        Refused(text: "1e", offset: 2, phrase: "exponent"),
        Refused(text: "1e+", offset: 3, phrase: "exponent"),
        Refused(text: "-", offset: 1, phrase: "expected a digit after '-'"),
        Refused(text: "--1", offset: 1, phrase: "expected a digit after '-'"),
        Refused(text: "+1", offset: 0, phrase: "unexpected character '+'"),
        Refused(text: ".5", offset: 0, phrase: "unexpected character '.'"),
        Refused(text: "Infinity", offset: 0, phrase: "unexpected character 'I'"),
        Refused(text: "NaN", offset: 0, phrase: "unexpected character 'N'"),
        Refused(text: "0x10", offset: 1, phrase: "unexpected text after the value"),
        Refused(text: "1-2", offset: 1, phrase: "unexpected text after the value"),
        Refused(text: "[1,]", offset: 3, phrase: "unexpected character ']'"),
        Refused(text: "", offset: 0, phrase: "unexpected end of input"),
    ]

    @Test("numbers follow RFC 8259 and must fit a Double", arguments: badNumbers)
    func badNumber(_ c: Refused) throws {
        let error = try #require(refusal(c.text))
        #expect(error.offset == c.offset, "\(error)")
        #expect(error.message.contains(c.phrase), "\(error)")
    }

    @Test("numbers: integers that fit Int are .int, the rest .double")
    func numbers() throws {
        func int(_ text: String) throws -> Int? {
            if case .int(let i) = try JSON.parse(text) { return i }
            return nil
        }
        func double(_ text: String) throws -> Double? {
            if case .double(let d) = try JSON.parse(text) { return d }
            return nil
        }
        #expect(try int("0") == 0)
        #expect(try int("-0") == 0)
        #expect(try int("9223372036854775807") == Int.max)
        #expect(try int("-9223372036854775808") == Int.min)
        #expect(try double("9223372036854775808") == 9.223372036854775808e18)
        #expect(try double("-9223372036854775809") == -9.223372036854775809e18)
        #expect(try double("1" + String(repeating: "0", count: 300)) == 1e300)
        #expect(try double("5e-324") == .leastNonzeroMagnitude)
        #expect(try double("1e-400") == 0)
        #expect(try double("-0.0")?.sign == .minus)
        #expect(try double("1.7976931348623157e308") == .greatestFiniteMagnitude)
        #expect(try double("-1.5E+3") == -1500)
        #expect(try double("2.5e-3") == 0.0025)
        #expect(try double("1E2") == 100)
        #expect(try JSON.parse(" [ 1 , -2 ] ") == [1, -2])
    }

    @Test("100 000 nested arrays or objects are an error, not a stack overflow")
    func deepNesting() throws {
        #expect(refusal(String(repeating: "[", count: 100_000))?.message.contains("nested deeper than 32") == true)
        #expect(refusal(String(repeating: #"{"a":"#, count: 100_000))?.message.contains("nested deeper") == true)
        let deepest = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(try JSON.parse(deepest).text == deepest)
    }

    /// Every prefix of a request full of escapes, numbers and nesting either
    /// parses or is an error: no prefix reaches a trap.
    @Test("every prefix of a hostile request parses or throws")
    func prefixes() throws {
        let text =
            #"{"command":"replay","file":"/tmp/caf\u00e9 \ud83d\ude00\"x\"","speed":"original","#
            + #""multiplier":-2.5e-3,"pps":1e308,"mbps":0,"job":-9223372036854775808,"a":[true,false,null,[{}]]}"#
        let request = try JSON.parse(text)
        #expect(request["file"]?.stringValue == "/tmp/café 😀\"x\"")
        #expect(request["job"]?.intValue == Int.min)
        #expect(try JSON.parse(request.text) == request)
        let bytes = Array(text.utf8)
        for end in 0..<bytes.count {
            #expect(throws: JSONParseError.self) { try JSON.parse(String(decoding: bytes[0..<end], as: UTF8.self)) }
        }
    }
}
