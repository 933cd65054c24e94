/// The configuration reference, written from the key table: the Markdown
/// of `docs/configuration.md` and the roff of `labyrinth.toml(5)`.
public enum ConfigReference {
    static let sectionDocs: [ConfigSection: String] = [
        .daemon: "The stats socket, its clients and the log.",
        .rooms: "The arena: one room of 4 KiB pages per worker, locked in memory.",
        .workers: "The pinned data-plane threads (lab-irq/N) and their flow tables.",
        .replay: "Replays of capture files through the workers.",
        .source: "Live capture: one per interface; every worker joins its PACKET_FANOUT group.",
        .ipfix: "IPFIX export of ended flows to collectors (RFC 7011).",
        .metrics: "GET /metrics over HTTP for Prometheus; off unless listen is set.",
        .sink: "Recording: every worker writes the frames it sees to files of its own (one [[sink]] at most).",
    ]

    static func change(_ key: ConfigKey) -> String {
        key.change == .live ? "live (SIGHUP)" : "restart"
    }

    /// `docs/configuration.md`.
    public static func markdown() -> String {
        var out = """
            # Configuration reference

            `labyrinthd run --config /etc/labyrinth/labyrinth.toml` reads one TOML file; \
            `labyrinthd check-config FILE` checks one without starting anything (exit 78 naming the file, \
            line and key when it is wrong). Every key has a default: an empty section is valid. A key \
            the table below does not list is an error, with a suggestion when one is close.

            **Reload.** `systemctl reload labyrinthd` (SIGHUP) re-reads the file and compares every key. \
            A changed key marked *live* is applied and logged as `reload: applied KEY (OLD → NEW)`; a \
            changed key marked *restart* keeps its running value and is logged as `reload: refused KEY \
            (OLD → NEW): it cannot change while running; restart the service to apply it`. A file that \
            does not parse, holds no settings, or does not end with a newline (a file cut short, or \
            one still being written) is refused whole: `reload refused, keeping the running \
            configuration`. The `config` command of the stats socket lists every key with its running \
            value.

            Sizes are bytes, or strings such as `"64MiB"`, `"512KiB"`, `"1GiB"`. Durations are seconds \
            (fractions allowed). This page is generated from the daemon's key table \
            (`labyrinthd config-reference --format markdown`); `config/labyrinth.toml` lists every key \
            with its default.

            """
        for section in ConfigSection.allCases {
            out += "\n## `\(section.header)`\n\n\(sectionDocs[section] ?? "")\n\n"
            out += "| Key | Type | Default | Changes | What it does |\n|---|---|---|---|---|\n"
            for key in ConfigKeys.all where key.section == section && !key.name.hasPrefix("test_") {
                let row = [
                    "`\(key.name)`", key.typeText,
                    key.derivedDefault == nil ? "`\(key.defaultText)`" : "*\(key.defaultText)*",
                    change(key), key.doc,
                ]
                out += "| " + row.map { $0.replacing("|", with: "\\|") }.joined(separator: " | ") + " |\n"
            }
        }
        return out
    }

    /// `labyrinth.toml(5)`, in roff (man(7) macros).
    public static func man(version: String) -> String {
        func esc(_ s: String) -> String {
            var t = s.replacing("\\", with: "\\e")
            t = t.replacing("-", with: "\\-")
            if t.hasPrefix(".") || t.hasPrefix("'") { t = "\\&" + t }
            return t
        }
        var out = """
            .TH LABYRINTH.TOML 5 "" "labyrinth \(version)" "File Formats Manual"
            .SH NAME
            labyrinth.toml \\- configuration of the labyrinthd packet data\\-plane daemon
            .SH SYNOPSIS
            .I /etc/labyrinth/labyrinth.toml
            .SH DESCRIPTION
            .B labyrinthd run
            reads one TOML file.
            .B labyrinthd check\\-config
            .I FILE
            checks one and exits 78, naming the file, line and key, when it is wrong.
            Every key has a default; a key not listed here is an error.
            .PP
            On SIGHUP
            .RB ( "systemctl reload labyrinthd" )
            the daemon re\\-reads the file and compares every key.
            A changed key marked
            .I live
            is applied and logged as applied; a changed key marked
            .I restart
            keeps its running value and is logged as refused, by name.
            A file that does not parse, holds no settings, or does not end with a newline is refused whole.
            .PP
            Sizes are bytes, or strings such as "64MiB". Durations are seconds.

            """
        for section in ConfigSection.allCases {
            out += ".SH \(esc(section.header))\n\(esc(sectionDocs[section] ?? ""))\n"
            for key in ConfigKeys.all where key.section == section && !key.name.hasPrefix("test_") {
                out += ".TP\n.BR \(esc(key.name)) \" = \" \(esc(key.example))\n"
                out += "\(esc(key.doc))\n.br\n"
                out += "Type: \(esc(key.typeText)). Default: \(esc(key.defaultText)). Changes: \(esc(change(key))).\n"
            }
        }
        out += """
            .SH FILES
            .TP
            .I /etc/labyrinth/labyrinth.toml
            The daemon's configuration.
            .SH SEE ALSO
            .BR labyrinthd (8),
            .BR labyrinthctl (8)

            """
        return out
    }
}
