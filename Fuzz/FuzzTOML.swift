import ControlPlane

/// One input is a configuration file (bytes decoded as UTF-8, as
/// `DaemonConfiguration.load` would refuse invalid ones). TOML.parse must
/// return a tree within its depth limits, with finite floats and lines
/// inside the file, or an error naming a line of it; then the configuration
/// loader reads the same text in memory.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let lines = text.utf8.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
    let root: TOML.Table
    do {
        root = try TOML.parse(text)
    } catch {
        precondition(error.line >= 1 && error.line <= lines, "\(error) but the file has \(lines) lines")
        _ = error.description
        return 0
    }
    check(root, lines: lines)
    // libpcap resolves host and port names while compiling a source's
    // filter (DNS, /etc/services): neither in memory nor ours to fuzz.
    if case .tableArray(let sources)? = root["source"]?.value, sources.contains(where: { $0["filter"] != nil }) {
        return 0
    }
    do {
        _ = try DaemonConfiguration.parse(text, file: "fuzz.toml")
    } catch {
        precondition(error.line >= 0 && error.line <= lines, "\(error) but the file has \(lines) lines")
        _ = error.description
    }
    return 0
}

/// Walks the tree without recursion, checking its invariants.
func check(_ root: TOML.Table, lines: Int) {
    var tables: [(table: TOML.Table, depth: Int)] = [(root, 0)]
    while let (table, depth) = tables.popLast() {
        precondition(depth <= TOML.maximumDepth, "tables \(depth) deep")
        precondition(table.line >= 0 && table.line <= lines)
        var values: [(value: TOML.Value, arrays: Int)] = []
        for (_, node) in table.entries {
            precondition(node.line >= 1 && node.line <= lines, "a node on line \(node.line) of \(lines)")
            values.append((node.value, 0))
        }
        while let (value, arrays) = values.popLast() {
            switch value {
            case .float(let d): precondition(d.isFinite, "a float \(d)")
            case .array(let items):
                precondition(arrays < TOML.maximumDepth, "arrays \(arrays + 1) deep")
                for item in items {
                    precondition(item.line >= 1 && item.line <= lines)
                    values.append((item.value, arrays + 1))
                }
            case .table(let t): tables.append((t, depth + 1))
            case .tableArray(let list):
                precondition(!list.isEmpty, "an empty array of tables")
                for t in list { tables.append((t, depth + 1)) }
            case .string, .integer, .boolean: break
            }
        }
    }
}
