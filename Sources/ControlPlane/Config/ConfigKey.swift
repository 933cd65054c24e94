import Capture
import DataPlane
import Rooms
import Sinks

/// A section of the configuration file.
public enum ConfigSection: String, Sendable, CaseIterable {
    case daemon, rooms, workers, replay, source, ipfix, metrics, sink

    /// `[[source]]` and `[[sink]]` are arrays of tables.
    public var isArray: Bool { self == .source || self == .sink }
    /// How the file writes its header.
    public var header: String { isArray ? "[[\(rawValue)]]" : "[\(rawValue)]" }
}

/// One key of the configuration file: its name, type, range, default, a
/// line of documentation, and whether it changes on SIGHUP. The table of
/// them (``ConfigKeys/all``) is the one list: the parser refuses any key
/// outside it and takes each key's range from it, `reload` applies or
/// refuses every changed key by its name, the `config` command lists them,
/// and `labyrinthd config-reference` writes the reference from it.
public struct ConfigKey: Sendable {
    /// The key's type and the values it may take.
    public enum Kind: Sendable {
        case integer(ClosedRange<Int>)
        case number(ClosedRange<Double>)
        /// Bytes: an integer, or a string such as "64MiB".
        case size(ClosedRange<Int>)
        case boolean
        case string
        case choice([String])
        case integers(ClosedRange<Int>)
        case strings
        /// An octal file mode, as a string ("0660").
        case mode(UInt32)
    }

    /// When a change takes effect.
    public enum Change: String, Sendable {
        /// On SIGHUP (`systemctl reload`).
        case live
        /// Only on a restart; a reload refuses it by name and keeps the running value.
        case restart
    }

    public let section: ConfigSection
    public let name: String
    public let kind: Kind
    public let change: Change
    /// One line of documentation.
    public let doc: String
    /// What the default is when it is derived from other settings (nil: the
    /// default is the value of a configuration that does not name the key).
    public let derivedDefault: String?
    /// A TOML value, valid on its own and different from the default.
    public let example: String
    /// The key's value in each instance of its section (one for a table,
    /// one per `[[source]]`, none without a `[[sink]]`), as TOML text; nil
    /// for a key left unset whose default is derived.
    let values: @Sendable (DaemonConfiguration) -> [String?]
    /// Copies the key's value of instance `index` from `new` (live keys).
    let copy: @Sendable (inout DaemonConfiguration, DaemonConfiguration, Int) -> Void

    /// `daemon.max_clients`, `source.snaplen`.
    public var dotted: String { "\(section.rawValue).\(name)" }

    /// The name of the key in instance `index` of its section, as
    /// configuration errors name it: `daemon.max_clients`, `source[1].snaplen`.
    public func dotted(instance index: Int) -> String {
        section.isArray ? "\(section.rawValue)[\(index)].\(name)" : dotted
    }

    /// The default as TOML text, or the derivation.
    public var defaultText: String {
        if let derivedDefault { return derivedDefault }
        return values(ConfigKeys.defaults(for: section)).first.flatMap { $0 } ?? "unset"
    }

    /// The values of this key in `configuration`, one per instance.
    public func values(in configuration: DaemonConfiguration) -> [String?] { values(configuration) }

    /// What the type and range say, for people.
    public var typeText: String {
        switch kind {
        case .integer(let r): return "integer, \(r.lowerBound)…\(r.upperBound)"
        case .number(let r): return "number, \(ConfigText.number(r.lowerBound))…\(ConfigText.number(r.upperBound))"
        case .size(let r): return "size, \(r.lowerBound)…\(r.upperBound) bytes (\"64MiB\", \"512KiB\" or bytes)"
        case .boolean: return "boolean"
        case .string: return "string"
        case .choice(let c): return "one of " + c.map { "\"\($0)\"" }.joined(separator: ", ")
        case .integers(let r): return "array of integers, \(r.lowerBound)…\(r.upperBound)"
        case .strings: return "array of strings"
        case .mode(let most): return "octal mode string, at most \"0\(String(most, radix: 8))\""
        }
    }
}

/// The TOML text of a value, as the file would write it.
enum ConfigText {
    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
    }
    static func string(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 || c.value == 0x7F {
                    out +=
                        "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count)
                        + String(c.value, radix: 16)
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }
    static func octal(_ m: UInt32) -> String {
        let digits = String(m, radix: 8)
        return string(String(repeating: "0", count: max(0, 4 - digits.count)) + digits)
    }
    static func strings(_ a: [String]) -> String { "[" + a.map(string).joined(separator: ", ") + "]" }
    static func integers(_ a: [Int]) -> String { "[" + a.map(String.init).joined(separator: ", ") + "]" }
}

/// A value the table can write as TOML text.
protocol ConfigTextual {
    var configText: String { get }
}
extension Int: ConfigTextual { var configText: String { String(self) } }
extension Int64: ConfigTextual { var configText: String { String(self) } }
extension Double: ConfigTextual { var configText: String { ConfigText.number(self) } }
extension Bool: ConfigTextual { var configText: String { self ? "true" : "false" } }
extension String: ConfigTextual { var configText: String { ConfigText.string(self) } }
extension Array: ConfigTextual where Element == String { var configText: String { ConfigText.strings(self) } }
extension LogLevel: ConfigTextual { var configText: String { ConfigText.string(rawValue) } }
extension LockPolicy: ConfigTextual { var configText: String { ConfigText.string(rawValue) } }
extension HugePagePolicy: ConfigTextual { var configText: String { ConfigText.string(rawValue) } }
extension CaptureBackend: ConfigTextual { var configText: String { ConfigText.string(rawValue) } }
extension FanoutMode: ConfigTextual { var configText: String { ConfigText.string(rawValue) } }

extension ConfigKey {
    /// A key of a table section, read and copied through `path`.
    static func key<V: ConfigTextual & Equatable & Sendable>(
        _ section: ConfigSection, _ name: String, _ path: any WritableKeyPath<DaemonConfiguration, V> & Sendable,
        _ kind: Kind, _ change: Change, example: String, derived: String? = nil, _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            section: section, name: name, kind: kind, change: change, doc: doc, derivedDefault: derived,
            example: example, values: { [$0[keyPath: path].configText] },
            copy: { into, new, _ in into[keyPath: path] = new[keyPath: path] }
        )
    }

    /// An optional key of a table section: unset means its derived default.
    static func key<V: ConfigTextual & Equatable & Sendable>(
        _ section: ConfigSection, _ name: String, _ path: any WritableKeyPath<DaemonConfiguration, V?> & Sendable,
        _ kind: Kind, _ change: Change, example: String, derived: String, _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            section: section, name: name, kind: kind, change: change, doc: doc, derivedDefault: derived,
            example: example, values: { [$0[keyPath: path]?.configText] },
            copy: { into, new, _ in into[keyPath: path] = new[keyPath: path] })
    }

    /// A key computed from its section (several keys of one setting: the
    /// replay's pacing, the rooms' watermarks).
    static func computed(
        _ section: ConfigSection, _ name: String, _ kind: Kind, _ change: Change, example: String,
        derived: String? = nil, _ doc: String,
        value: @escaping @Sendable (DaemonConfiguration) -> String?,
        copy: @escaping @Sendable (inout DaemonConfiguration, DaemonConfiguration) -> Void = { _, _ in }
    ) -> ConfigKey {
        ConfigKey(
            section: section, name: name, kind: kind, change: change, doc: doc, derivedDefault: derived,
            example: example,
            values: { c in section == .sink && c.sink == nil ? [] : [value(c)] },
            copy: { into, new, _ in copy(&into, new) })
    }

    /// A key of each `[[source]]`.
    static func source<V: ConfigTextual & Equatable & Sendable>(
        _ name: String, _ path: any WritableKeyPath<DaemonConfiguration.Source, V> & Sendable, _ kind: Kind,
        _ change: Change, example: String, derived: String? = nil, _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            section: .source, name: name, kind: kind, change: change, doc: doc, derivedDefault: derived,
            example: example, values: { $0.sources.map { $0[keyPath: path].configText } },
            copy: { into, new, i in into.sources[i][keyPath: path] = new.sources[i][keyPath: path] })
    }

    static func source<V: ConfigTextual & Equatable & Sendable>(
        _ name: String, _ path: any WritableKeyPath<DaemonConfiguration.Source, V?> & Sendable, _ kind: Kind,
        _ change: Change, example: String, derived: String, _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            section: .source, name: name, kind: kind, change: change, doc: doc, derivedDefault: derived,
            example: example, values: { $0.sources.map { $0[keyPath: path]?.configText } },
            copy: { into, new, i in into.sources[i][keyPath: path] = new.sources[i][keyPath: path] })
    }

    /// A key of the `[[sink]]`.
    static func sink<V: ConfigTextual & Equatable & Sendable>(
        _ name: String, _ path: any WritableKeyPath<DaemonConfiguration.SinkSection, V> & Sendable, _ kind: Kind,
        _ change: Change, example: String, _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            section: .sink, name: name, kind: kind, change: change, doc: doc, derivedDefault: nil, example: example,
            values: { $0.sink.map { [$0[keyPath: path].configText] } ?? [] },
            copy: { into, new, _ in
                if let value = new.sink?[keyPath: path] { into.sink?[keyPath: path] = value }
            })
    }

    static func sink<V: ConfigTextual & Equatable & Sendable>(
        _ name: String, _ path: any WritableKeyPath<DaemonConfiguration.SinkSection, V?> & Sendable, _ kind: Kind,
        _ change: Change, example: String, derived: String, _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            section: .sink, name: name, kind: kind, change: change, doc: doc, derivedDefault: derived,
            example: example, values: { $0.sink.map { [$0[keyPath: path]?.configText] } ?? [] },
            copy: { into, new, _ in into.sink?[keyPath: path] = new.sink?[keyPath: path] })
    }
}
