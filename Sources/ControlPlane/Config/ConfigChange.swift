/// A key whose value differs between the running configuration and the
/// file a reload read: what `reload` applies or refuses, by name.
public struct ConfigChange: Sendable, Equatable, CustomStringConvertible {
    public var key: ConfigKey
    /// The section's instance (the `[[source]]`'s index; 0 for a table).
    public var instance: Int
    /// The values as TOML text; nil: unset (its derived default), or no
    /// such instance.
    public var old: String?
    public var new: String?

    public static func == (a: ConfigChange, b: ConfigChange) -> Bool {
        a.key.dotted == b.key.dotted && a.instance == b.instance && a.old == b.old && a.new == b.new
    }

    /// `source[0].filter`
    public var name: String { key.dotted(instance: instance) }

    public var description: String { "\(name) (\(old ?? "default") → \(new ?? "default"))" }

    /// Every key of the table whose value differs, in the table's order.
    public static func between(_ old: DaemonConfiguration, _ new: DaemonConfiguration) -> [ConfigChange] {
        var changes: [ConfigChange] = []
        for key in ConfigKeys.all {
            let before = key.values(in: old)
            let after = key.values(in: new)
            for i in 0..<max(before.count, after.count) {
                let a = i < before.count ? before[i] : nil
                let b = i < after.count ? after[i] : nil
                if a != b { changes.append(ConfigChange(key: key, instance: i, old: a, new: b)) }
            }
        }
        return changes
    }

    /// Whether the reload may apply it: a live key, in an instance both
    /// configurations have (a `[[source]]` added or removed is a restart).
    func isLive(_ old: DaemonConfiguration, _ new: DaemonConfiguration) -> Bool {
        key.change == .live && instanceInBoth(old, new)
    }

    /// Whether both configurations have this change's instance.
    func instanceInBoth(_ old: DaemonConfiguration, _ new: DaemonConfiguration) -> Bool {
        instance < key.values(in: old).count && instance < key.values(in: new).count
    }
}
