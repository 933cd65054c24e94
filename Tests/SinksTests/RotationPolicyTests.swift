import Sinks
import Testing

private let second: Int64 = 1_000_000_000
/// 2023-11-14T22:13:20Z, in ns.
private let t0: Int64 = 1_700_000_000 * second

/// What a caller does with the policy's actions: files as the caller would
/// have them on disk, in memory.
private struct Disk {
    struct File {
        var path: String
        var blocks: [Int] = []  // packet blocks, in order
        var headerBytes = 0
        var bytes: Int { headerBytes + blocks.reduce(0, +) }
    }
    var files: [String: File] = [:]
    var created: [String] = []
    var unlinked: [String] = []
    var current: String?
    let headerBytes: Int

    init(headerBytes: Int) { self.headerBytes = headerBytes }

    mutating func apply(_ action: RotationAction, policy: inout RotationPolicy) {
        if let closing = action.close {
            #expect(closing.path == current)
        }
        if let opened = action.open {
            #expect(files[opened.path] == nil, "\(opened.path) opened twice")
            #expect(!created.contains(opened.path), "\(opened.path) named twice")
            files[opened.path] = File(path: opened.path, headerBytes: headerBytes)
            created.append(opened.path)
            current = opened.path
            policy.wrote(bytes: headerBytes)
        }
        for gone in action.unlink {
            #expect(gone.path != current, "the current file is never unlinked")
            #expect(files[gone.path] != nil, "\(gone.path) is not a file of this run")
            files[gone.path] = nil
            unlinked.append(gone.path)
        }
    }

    mutating func packet(_ bytes: Int, now: Int64, policy: inout RotationPolicy) throws -> Bool {
        let action = try policy.packet(bytes: bytes, now: now)
        apply(action, policy: &policy)
        if action.writePacket { files[current!]!.blocks.append(bytes) }
        return action.writePacket
    }
}

private func policy(_ rotation: RotationConfiguration, template: String = "cap.pcapng") throws -> RotationPolicy {
    try RotationPolicy(
        naming: FileNaming(template: template, workers: 1, rotation: rotation, timeZone: .utc), worker: 0)
}

/// Block sizes of recorded frames, 60 B to 64 KiB, deterministic.
private func blockSizes(_ count: Int) -> [Int] {
    var state: UInt64 = 12345
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let length = state >> 60 == 0 ? 65536 : 60 + Int((state >> 33) % 1500)
        return PcapngEncoder.enhancedPacketLength(capturedLength: length)!
    }
}

@Suite("RotationPolicy on an injected clock")
struct RotationPolicyTests {
    @Test(
        "by size: a file is rotated once it holds the limit, so it is under the limit before its last block",
        arguments: [1, 100, 4096, 65_536, 100_000, 1_000_000])
    func bySize(limit: Int) throws {
        var p = try policy(RotationConfiguration(maximumFileSize: limit))
        var disk = Disk(headerBytes: 128)
        disk.apply(try p.start(now: t0), policy: &p)
        let sizes = blockSizes(2000)
        for (i, size) in sizes.enumerated() {
            #expect(try disk.packet(size, now: t0 + Int64(i), policy: &p))
        }
        let files = disk.created.map { disk.files[$0]! }
        #expect(files.reduce(0) { $0 + $1.blocks.count } == sizes.count)
        #expect(files.flatMap(\.blocks) == sizes, "no block lost or reordered")
        for (i, f) in files.enumerated() {
            #expect(!f.blocks.isEmpty, "\(f.path) has a packet")
            // Under the limit before its last block (or holding just one).
            #expect(f.bytes - f.blocks.last! < limit || f.blocks.count == 1, "\(f.path): \(f.bytes)")
            #expect(f.bytes < limit + f.blocks.last! || f.blocks.count == 1)
            #expect(f.bytes <= max(limit - 1, f.headerBytes) + f.blocks.last!)
            // Every file but the last was full.
            if i < files.count - 1 { #expect(f.bytes >= limit, "\(f.path): \(f.bytes) closed under \(limit)") }
        }
        #expect(p.counters.rotatedSize == UInt64(files.count - 1))
        #expect(disk.created == (0..<files.count).map { "cap.\($0).pcapng" })
        #expect(p.current?.bytes == files.last!.bytes)
        #expect(disk.unlinked.isEmpty && p.closed.isEmpty, "no ring: nothing unlinked, nothing remembered")
    }

    @Test(
        "by time: files follow intervals aligned on the epoch, not on the first packet", arguments: [1, 60, 300, 3600])
    func byTime(interval: Int64) throws {
        var p = try policy(RotationConfiguration(intervalSeconds: interval), template: "cap-%s.pcapng")
        var disk = Disk(headerBytes: 64)
        let start = t0 + 17 * second + 123  // not on a boundary
        disk.apply(try p.start(now: start), policy: &p)
        let boundary = (start / second / interval + 1) * interval * second
        #expect(p.current?.nameTimeSeconds == boundary / second - interval)
        #expect(p.nextDeadline == boundary)
        #expect(disk.created == ["cap-\(boundary / second - interval).pcapng"])

        // Just before the boundary: same file. At it: the next one.
        #expect(try disk.packet(100, now: boundary - 1, policy: &p))
        #expect(disk.created.count == 1)
        #expect(try disk.packet(100, now: boundary, policy: &p))
        #expect(disk.created.count == 2)
        #expect(p.current?.nameTimeSeconds == boundary / second)
        #expect(p.nextDeadline == boundary + interval * second)

        // A quiet link: the timer at the deadline rotates without a packet.
        #expect(try p.tick(now: boundary + interval * second - 1) == .none)
        let quiet = try p.tick(now: boundary + interval * second)
        disk.apply(quiet, policy: &p)
        #expect(quiet.reason == .time)
        #expect(disk.created.count == 3)
        #expect(p.current?.nameTimeSeconds == boundary / second + interval)

        // The clock steps back: no rotation back, the interval waits for its end.
        #expect(try disk.packet(100, now: boundary - 10 * interval * second, policy: &p))
        #expect(try p.tick(now: boundary) == .none)
        #expect(disk.created.count == 3)

        // A jump over many intervals gives one file, of the interval of now.
        let later = boundary + 1000 * interval * second + 5
        #expect(try disk.packet(100, now: later, policy: &p))
        #expect(disk.created.count == 4)
        #expect(p.current?.nameTimeSeconds == boundary / second + 1000 * interval)
        #expect(p.counters.rotatedTime == 3)
        for f in disk.created {
            let s = Int64(f.dropFirst(4).dropLast(7))!
            #expect(s % interval == 0, "\(f) on a multiple of \(interval) s")
        }
    }

    @Test("replay: the same policy on the packets' own clock, a 2001 capture")
    func replayClock() throws {
        var p = try policy(RotationConfiguration(intervalSeconds: 60), template: "cap-%Y%m%d-%H%M%S.pcapng")
        var disk = Disk(headerBytes: 64)
        let first: Int64 = 1_000_000_030 * second  // 2001-09-09T01:47:10Z
        for k in 0..<600 {
            _ = try disk.packet(100, now: first + Int64(k) * second / 2, policy: &p)
        }
        #expect(
            disk.created == [
                "cap-20010909-014700.pcapng", "cap-20010909-014800.pcapng", "cap-20010909-014900.pcapng",
                "cap-20010909-015000.pcapng", "cap-20010909-015100.pcapng", "cap-20010909-015200.pcapng",
            ])
        #expect(disk.created.map { disk.files[$0]!.blocks.count } == [100, 120, 120, 120, 120, 20])
    }

    @Test("a ring keeps exactly the newest N files of this run, with either rotation", arguments: [1, 2, 3, 10])
    func ring(size: Int) throws {
        for rotation in [
            RotationConfiguration(maximumFileSize: 10_000, ringSize: size),
            RotationConfiguration(intervalSeconds: 1, ringSize: size),
            RotationConfiguration(maximumFileSize: 3000, intervalSeconds: 2, ringSize: size),
        ] {
            var p = try policy(rotation)
            var disk = Disk(headerBytes: 100)
            disk.apply(try p.start(now: t0), policy: &p)
            for (i, block) in blockSizes(400).enumerated() {
                _ = try disk.packet(block, now: t0 + Int64(i) * second / 20, policy: &p)
                // After every step: at most N files, the newest ones.
                #expect(disk.files.count == min(size, disk.created.count))
                #expect(Set(disk.files.keys) == Set(disk.created.suffix(size)))
                #expect(p.files.map(\.path) == Array(disk.created.suffix(size)))
            }
            #expect(disk.created.count > size + 2, "\(rotation): enough rotations to test")
            #expect(disk.unlinked == Array(disk.created.dropLast(size)), "oldest first, each once")
            #expect(p.counters.unlinkedRing == UInt64(disk.unlinked.count))
        }
    }

    @Test("free-space floor with a ring: the oldest files of this run go first, then writing stops, then resumes")
    func floorWithRing() throws {
        var p = try policy(RotationConfiguration(maximumFileSize: 1000, ringSize: 5, minimumFreeBytes: 10_000))
        var disk = Disk(headerBytes: 0)
        disk.apply(try p.start(now: t0), policy: &p)
        for i in 0..<5 {
            _ = try disk.packet(1000, now: t0 + Int64(i), policy: &p)  // one 1000-byte file each
        }
        #expect(disk.files.count == 5)
        // Plenty of room: nothing happens.
        #expect(p.freeSpace(availableBlocks: 100, fragmentSize: 4096) == .none)
        // 7000 free, floor 10000: three closed files (3000 bytes) lift it.
        let a = p.freeSpace(availableBlocks: 7, fragmentSize: 1000)
        disk.apply(a, policy: &p)
        #expect(a.unlink.map(\.path) == ["cap.0.pcapng", "cap.1.pcapng", "cap.2.pcapng"])
        #expect(p.writing)
        // 0 free: the last closed file goes, and it is not enough: stop.
        let b = p.freeSpace(availableBlocks: 0, fragmentSize: 4096)
        disk.apply(b, policy: &p)
        #expect(b.unlink.map(\.path) == ["cap.3.pcapng"])
        #expect(!p.writing)
        #expect(p.files.map(\.path) == ["cap.4.pcapng"], "the current file stays")
        #expect(try !disk.packet(1500, now: t0 + 10, policy: &p))
        #expect(try !disk.packet(1500, now: t0 + 11, policy: &p))
        #expect(p.counters.unwrittenDiskFull == 2 && p.counters.unwrittenDiskFullBytes == 3000)
        #expect(p.counters.diskFullStops == 1)
        #expect(try p.forceRotation(now: t0 + 12) == .none, "no new file while stopped")
        // Still short: still stopped, nothing left to unlink, counted once.
        #expect(p.freeSpace(availableBlocks: 1, fragmentSize: 4096) == .none)
        #expect(p.counters.diskFullStops == 1)
        // Space is back: writing resumes (cap.4 is full, so into cap.5).
        #expect(p.freeSpace(availableBlocks: 3, fragmentSize: 4096) == .none)
        #expect(p.writing)
        #expect(try disk.packet(100, now: t0 + 13, policy: &p))
        #expect(disk.files["cap.4.pcapng"]!.blocks == [1000])
        #expect(disk.files["cap.5.pcapng"]!.blocks == [100])
        #expect(p.counters.unlinkedFreeSpace == 4)
        #expect(disk.unlinked.allSatisfy { disk.created.contains($0) })
    }

    @Test("free-space floor without a ring: nothing is unlinked, writing stops and resumes")
    func floorWithoutRing() throws {
        var p = try policy(RotationConfiguration(intervalSeconds: 60, minimumFreeBytes: 1 << 30))
        var disk = Disk(headerBytes: 10)
        disk.apply(try p.start(now: t0), policy: &p)
        #expect(try disk.packet(100, now: t0, policy: &p))
        #expect(p.freeSpace(availableBlocks: (1 << 30) / 4096 - 1, fragmentSize: 4096) == .none)
        #expect(!p.writing)
        #expect(try !disk.packet(100, now: t0 + 61 * second, policy: &p))
        #expect(try p.tick(now: t0 + 120 * second) == .none, "no rotation while stopped")
        #expect(p.freeSpace(availableBlocks: (1 << 30) / 4096, fragmentSize: 4096) == .none)
        #expect(p.writing)
        // The interval passed while stopped: the next packet rotates to now's.
        #expect(try disk.packet(100, now: t0 + 125 * second, policy: &p))
        #expect(disk.created == ["cap.0.pcapng", "cap.1.pcapng"])
        #expect(p.current?.nameTimeSeconds == (t0 / second + 125) / 60 * 60)
        #expect(disk.unlinked.isEmpty)
        // statvfs numbers that overflow 64 bits are plenty.
        #expect(p.freeSpace(availableBlocks: .max, fragmentSize: .max) == .none)
        #expect(p.writing)
    }

    @Test("forced rotation, and a template whose name cannot change yet")
    func forced() throws {
        var p = try policy(RotationConfiguration(maximumFileSize: 1 << 20))
        var disk = Disk(headerBytes: 10)
        #expect(try p.forceRotation(now: t0) == .none, "not started")
        disk.apply(try p.start(now: t0), policy: &p)
        #expect(try p.start(now: t0) == .none, "started once")
        let f = try p.forceRotation(now: t0)
        disk.apply(f, policy: &p)
        #expect(f.reason == .forced && p.counters.rotatedForced == 1)
        #expect(disk.created == ["cap.0.pcapng", "cap.1.pcapng"])

        // Time fields and no {seq}: a second forced rotation within the same
        // second would reopen the current file, so it does nothing.
        var q = try policy(RotationConfiguration(intervalSeconds: 60), template: "cap-%H%M%S.pcapng")
        var d2 = Disk(headerBytes: 10)
        d2.apply(try q.start(now: t0 + 5 * second), policy: &q)
        d2.apply(try q.forceRotation(now: t0 + 5 * second), policy: &q)
        #expect(try q.forceRotation(now: t0 + 5 * second + 1) == .none)
        #expect(d2.created == ["cap-221300.pcapng", "cap-221325.pcapng"])

        // A field that wraps (%M alone, hourly files): the file goes on.
        var r = try policy(RotationConfiguration(intervalSeconds: 3600), template: "cap-%M.pcapng")
        var d3 = Disk(headerBytes: 10)
        d3.apply(try r.start(now: t0), policy: &r)
        #expect(try d3.packet(1, now: t0 + 3600 * second, policy: &r))
        #expect(d3.created == ["cap-00.pcapng"])
        #expect(r.nextDeadline == (t0 / second / 3600 + 2) * 3600 * second, "the deadline still moves on")
    }

    @Test("a worker out of range is refused")
    func workerRange() throws {
        let naming = try FileNaming(template: "x", workers: 2, rotation: RotationConfiguration(), timeZone: .utc)
        #expect(throws: FileNamingError.workerOutOfRange(worker: 2, workers: 2)) {
            try RotationPolicy(naming: naming, worker: 2)
        }
    }
}
