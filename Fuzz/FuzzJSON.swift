import StatsProtocol

/// One input is one stats-socket request line, as the server reads it
/// (bytes decoded as UTF-8, invalid sequences repaired). Whatever parses
/// must write back as text that parses to an equal value, compact and
/// pretty, and write the same text again.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let value: JSON
    do {
        value = try JSON.parse(text)
    } catch {
        precondition(error.offset >= 0 && error.offset <= text.utf8.count, "offset outside the input: \(error)")
        return 0
    }
    // What the command handlers read.
    _ = value["command"]?.stringValue
    _ = value["top"]?.intValue
    _ = value["pps"]?.doubleValue
    _ = value.arrayValue?.first?.intValue
    let written = value.text
    guard let again = try? JSON.parse(written) else { preconditionFailure("\(written) does not parse") }
    precondition(again == value, "\(text) was written as \(written), which parses to another value")
    precondition(again.text == written, "\(written) is written differently the second time")
    guard let pretty = try? JSON.parse(value.prettyText) else { preconditionFailure("pretty text does not parse") }
    precondition(pretty == value, "\(text): the pretty text parses to another value")
    return 0
}
