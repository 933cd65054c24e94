import Sinks
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// 2023-11-14T22:13:20Z.
private let t0: Int64 = 1_700_000_000

private let none = RotationConfiguration()
private let bySize = RotationConfiguration(maximumFileSize: 1_000_000)
private let byMinute = RotationConfiguration(intervalSeconds: 60)
private let byHour = RotationConfiguration(intervalSeconds: 3600)

@Suite("FileNaming: templates, added fields, refusals")
struct FileNamingTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var template: String
        var workers: Int
        var rotation: RotationConfiguration
        var worker: Int
        var sequence: UInt64
        var expected: String
        var testDescription: String { "\(template) → \(expected)" }
    }

    @Test(
        "names, in UTC",
        arguments: [
            Case(template: "cap.pcapng", workers: 1, rotation: none, worker: 0, sequence: 0, expected: "cap.pcapng"),
            Case(
                template: "cap.pcapng", workers: 1, rotation: bySize, worker: 0, sequence: 0, expected: "cap.0.pcapng"),
            Case(
                template: "cap.pcapng", workers: 1, rotation: bySize, worker: 0, sequence: 12, expected: "cap.12.pcapng"
            ),
            Case(
                template: "cap.pcapng", workers: 1, rotation: byMinute, worker: 0, sequence: 3, expected: "cap.3.pcapng"
            ),
            Case(template: "cap.pcapng", workers: 3, rotation: none, worker: 1, sequence: 0, expected: "cap.w1.pcapng"),
            Case(
                template: "cap.pcapng", workers: 3, rotation: bySize, worker: 2, sequence: 4,
                expected: "cap.w2.4.pcapng"),
            Case(template: "cap", workers: 2, rotation: bySize, worker: 1, sequence: 0, expected: "cap.w1.0"),
            Case(
                template: "/var/log.d/cap", workers: 1, rotation: bySize, worker: 0, sequence: 1,
                expected: "/var/log.d/cap.1"),
            Case(
                template: "/tmp/.hidden", workers: 1, rotation: bySize, worker: 0, sequence: 1,
                expected: "/tmp/.hidden.1"),
            Case(
                template: "d/.cap.pcapng", workers: 1, rotation: bySize, worker: 0, sequence: 1,
                expected: "d/.cap.1.pcapng"),
            Case(
                template: "cap.tar.gz", workers: 1, rotation: bySize, worker: 0, sequence: 1, expected: "cap.tar.1.gz"),
            Case(
                template: "cap-%Y%m%d-%H%M%S.pcapng", workers: 1, rotation: byMinute, worker: 0, sequence: 9,
                expected: "cap-20231114-221320.pcapng"),
            Case(
                template: "cap-%Y%m%d-%H%M%S.pcapng", workers: 1,
                rotation: RotationConfiguration(maximumFileSize: 10, intervalSeconds: 60), worker: 0, sequence: 9,
                expected: "cap-20231114-221320.9.pcapng"),
            Case(
                template: "cap-%F-%H%M.pcapng", workers: 2, rotation: byMinute, worker: 1, sequence: 9,
                expected: "cap-2023-11-14-2213.w1.pcapng"),
            Case(
                template: "cap-{worker}-{seq}.pcapng", workers: 2, rotation: bySize, worker: 1, sequence: 7,
                expected: "cap-1-7.pcapng"),
            Case(
                template: "cap-{seq}.pcapng", workers: 1, rotation: none, worker: 0, sequence: 0,
                expected: "cap-0.pcapng"),
            Case(
                template: "cap-%s.pcapng", workers: 1, rotation: byMinute, worker: 0, sequence: 0,
                expected: "cap-1700000000.pcapng"),
            Case(
                template: "%Y/%m/%d/cap-%H.pcapng", workers: 1, rotation: byHour, worker: 0, sequence: 0,
                expected: "2023/11/14/cap-22.pcapng"),
            Case(template: "cap.%H", workers: 1, rotation: bySize, worker: 0, sequence: 2, expected: "cap.22.2"),
            Case(template: "100%%.pcapng", workers: 1, rotation: none, worker: 0, sequence: 0, expected: "100%.pcapng"),
            Case(
                template: "cap-%Z.pcapng", workers: 1, rotation: byMinute, worker: 0, sequence: 5,
                expected: "cap-GMT.5.pcapng"),
            Case(template: "a}b.pcap", workers: 1, rotation: none, worker: 0, sequence: 0, expected: "a}b.pcap"),
            Case(template: "-", workers: 1, rotation: none, worker: 0, sequence: 0, expected: "-"),
        ])
    func names(c: Case) throws {
        let naming = try FileNaming(template: c.template, workers: c.workers, rotation: c.rotation, timeZone: .utc)
        #expect(try naming.path(worker: c.worker, sequence: c.sequence, timeSeconds: t0) == c.expected)
    }

    @Test(
        "refused templates",
        arguments: [
            ("", 1, none, FileNamingError.emptyTemplate),
            ("cap%", 1, none, .trailingPercent("cap%")),
            ("cap%%%", 1, none, .trailingPercent("cap%%%")),
            ("cap-%D", 1, none, .unsupportedConversion("%D", "cap-%D")),
            ("cap-%c", 1, none, .unsupportedConversion("%c", "cap-%c")),
            ("cap-%n", 1, none, .unsupportedConversion("%n", "cap-%n")),
            ("cap-%e", 1, none, .unsupportedConversion("%e", "cap-%e")),
            ("cap-%k", 1, none, .unsupportedConversion("%k", "cap-%k")),
            ("cap-%-d", 1, none, .unsupportedConversion("%-", "cap-%-d")),
            ("cap-%4Y", 1, none, .unsupportedConversion("%4", "cap-%4Y")),
            ("cap-%Ey", 1, none, .unsupportedConversion("%E", "cap-%Ey")),
            ("cap-%é", 1, none, .unsupportedConversion("%é", "cap-%é")),
            ("cap%.pcapng", 1, bySize, .unsupportedConversion("%.", "cap%.pcapng")),
            ("cap-{x}.pcapng", 1, none, .unknownField("{x}", "cap-{x}.pcapng")),
            ("cap-{}.pcapng", 1, none, .unknownField("{}", "cap-{}.pcapng")),
            ("cap-{Worker}", 1, none, .unknownField("{Worker}", "cap-{Worker}")),
            ("cap-{worker", 1, none, .unclosedBrace("cap-{worker")),
            ("cap\u{0}x", 1, none, .containsNul("cap\u{0}x")),
            ("-", 2, none, .standardOutputWithWorkers(2)),
            ("-", 1, bySize, .standardOutputWithRotation),
            ("-", 1, byMinute, .standardOutputWithRotation),
            ("%Y%m%d.pcapng", 1, byHour, .timeFieldsTooCoarse(field: "%d", intervalSeconds: 3600)),
            ("%F-%H.pcapng", 1, byMinute, .timeFieldsTooCoarse(field: "%H", intervalSeconds: 60)),
            ("dir/", 1, none, .namesADirectory("dir/")),
            ("..", 1, none, .namesADirectory("..")),
            ("a/.", 1, none, .namesADirectory("a/.")),
            ("cap", 0, none, .workerCountOutOfRange(0)),
            ("cap", 1, RotationConfiguration(ringSize: 3), .rotation(.ringWithoutRotation)),
            ("cap", 1, RotationConfiguration(maximumFileSize: 0), .rotation(.fileSizeOutOfRange(0))),
            ("cap", 1, RotationConfiguration(intervalSeconds: 0), .rotation(.intervalOutOfRange(0))),
            ("cap", 1, RotationConfiguration(intervalSeconds: 10, ringSize: 0), .rotation(.ringSizeOutOfRange(0))),
            ("cap", 1, RotationConfiguration(minimumFreeBytes: -1), .rotation(.minimumFreeOutOfRange(-1))),
        ] as [(String, Int, RotationConfiguration, FileNamingError)])
    func refused(template: String, workers: Int, rotation: RotationConfiguration, error: FileNamingError) {
        #expect(throws: error) {
            try FileNaming(template: template, workers: workers, rotation: rotation, timeZone: .utc)
        }
        #expect(!error.description.isEmpty)
    }

    @Test("refused names: worker out of range, a time beyond the calendar")
    func refusedNames() throws {
        let naming = try FileNaming(template: "cap-%Y.pcapng", workers: 2, rotation: none, timeZone: .utc)
        #expect(throws: FileNamingError.workerOutOfRange(worker: 2, workers: 2)) {
            try naming.path(worker: 2, sequence: 0, timeSeconds: t0)
        }
        #expect(throws: FileNamingError.workerOutOfRange(worker: -1, workers: 2)) {
            try naming.path(worker: -1, sequence: 0, timeSeconds: t0)
        }
        #expect(throws: FileNamingError.timeOutOfRange(Int64.max)) {
            try naming.path(worker: 0, sequence: 0, timeSeconds: Int64.max)
        }
        // Without time fields, any time will do.
        let plain = try FileNaming(template: "cap", workers: 1, rotation: bySize, timeZone: .utc)
        #expect(try plain.path(worker: 0, sequence: UInt64.max, timeSeconds: Int64.max) == "cap.18446744073709551615")
    }

    @Test("local time is what date(1) shows for the same instant and format")
    func localTime() throws {
        let format = "%Y-%m-%d_%H-%M-%S_%z_%Z_%a_%b_%j_%U_%p"
        let naming = try FileNaming(template: format, workers: 1, rotation: none, timeZone: .local)
        // date(1) in the C locale, as the daemon (which never calls
        // setlocale) formats; the same TZ as this process.
        var environment = ["LC_ALL=C", "PATH=/usr/bin:/bin"]
        if let tz = getenv("TZ") { environment.append("TZ=" + String(cString: tz)) }
        for t in [t0, 1_720_000_000, 946_684_799, 0] {
            let date = run(["date", "-d", "@\(t)", "+" + format], environment: environment)
            try #require(date.status == 0, "date: \(date.stderr)")
            #expect(try naming.path(worker: 0, sequence: 0, timeSeconds: t) + "\n" == date.stdout)
        }
    }

    @Test("what is added is said: addsWorker, addsSequence")
    func flags() throws {
        let a = try FileNaming(template: "x-%H%M%S", workers: 2, rotation: byMinute, timeZone: .utc)
        #expect(a.addsWorker && !a.addsSequence)
        let b = try FileNaming(template: "x-{worker}", workers: 2, rotation: bySize, timeZone: .utc)
        #expect(!b.addsWorker && b.addsSequence)
        let c = try FileNaming(template: "x-{seq}", workers: 1, rotation: bySize, timeZone: .utc)
        #expect(!c.addsWorker && !c.addsSequence)
    }
}
