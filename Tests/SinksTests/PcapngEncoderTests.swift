import Sinks
import Testing

/// Reads a native-order UInt32 at `offset`.
private func u32(_ b: [UInt8], _ offset: Int) -> UInt32 {
    b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
}

@Suite("pcapng and pcap encoders: layout and refusals")
struct PcapngEncoderTests {
    @Test("EPB header and trailer around a frame make one block of the right length", arguments: 0...8)
    func epbSplit(length: Int) throws {
        var page = [UInt8](repeating: 0xEE, count: 28 + length + 7)
        let (h, t) = try page.withUnsafeMutableBytes { p in
            let h = try PcapngEncoder.epbHeader(
                into: p.baseAddress!, interface: 7, timestampNanoseconds: 0x0102_0304_0506_0708,
                capturedLength: length, originalLength: length + 1)
            let t = try PcapngEncoder.epbTrailer(into: p.baseAddress! + 28 + length, capturedLength: length)
            return (h, t)
        }
        let total = 28 + (length + 3) / 4 * 4 + 4
        #expect(h == PcapngEncoder.epbHeaderSize)
        #expect(t == total - 28 - length)
        #expect(t <= PcapngEncoder.epbMaximumTrailerSize)
        #expect(PcapngEncoder.enhancedPacketLength(capturedLength: length) == total)
        #expect(u32(page, 0) == 6)
        #expect(u32(page, 4) == UInt32(total))
        #expect(u32(page, 8) == 7)
        #expect(u32(page, 12) == 0x0102_0304)
        #expect(u32(page, 16) == 0x0506_0708)
        #expect(u32(page, 20) == UInt32(length))
        #expect(u32(page, 24) == UInt32(length + 1))
        #expect(page[(28 + length)..<(total - 4)].allSatisfy { $0 == 0 }, "padding is zeroed")
        #expect(u32(page, total - 4) == UInt32(total))
        #expect(page[total...].allSatisfy { $0 == 0xEE }, "nothing written past the block")
    }

    @Test("the copying EPB is the zero-copy one, byte for byte")
    func epbCopy() throws {
        for length in [0, 1, 2, 3, 64, 1514, 65536] {
            let frame = frameBytes(length, seed: UInt64(length))
            var zeroCopy: [UInt8] = []
            try appendZeroCopyEPB(
                TestFrame(interface: 2, nanoseconds: 99, bytes: frame, originalLength: length + 4), to: &zeroCopy)
            let total = PcapngEncoder.enhancedPacketLength(capturedLength: length)!
            var copied = [UInt8](repeating: 0xEE, count: total)
            let n = try copied.withUnsafeMutableBytes { out in
                try frame.withUnsafeBytes { f in
                    try PcapngEncoder.enhancedPacket(
                        into: out, interface: 2, timestampNanoseconds: 99, frame: f, originalLength: length + 4)
                }
            }
            #expect(n == total)
            #expect(copied == zeroCopy)
        }
    }

    @Test("out-of-range inputs are refused, nothing is written")
    func refusals() {
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0xEE)
        var page: [UInt8] { Array(raw) }
        func header(_ ts: Int64, _ cap: Int, _ orig: Int) -> PcapEncodingError? {
            do {
                _ = try PcapngEncoder.epbHeader(
                    into: raw.baseAddress!, interface: 0, timestampNanoseconds: ts, capturedLength: cap,
                    originalLength: orig)
                return nil
            } catch {
                return error
            }
        }
        let max = PcapngEncoder.maximumCapturedLength
        #expect(header(-1, 10, 10) == .timestampOutOfRange(nanoseconds: -1))
        #expect(header(Int64.min, 10, 10) == .timestampOutOfRange(nanoseconds: Int64.min))
        #expect(header(0, -1, 10) == .capturedLengthOutOfRange(-1))
        #expect(header(0, Int.min, 10) == .capturedLengthOutOfRange(Int.min))
        #expect(header(0, max + 1, Int.max) == .capturedLengthOutOfRange(max + 1))
        #expect(header(0, Int.max, Int.max) == .capturedLengthOutOfRange(Int.max))
        #expect(header(0, 10, 9) == .originalLengthOutOfRange(captured: 10, original: 9))
        #expect(header(0, 10, Int(UInt32.max) + 1) == .originalLengthOutOfRange(captured: 10, original: 1 << 32))
        #expect(page.allSatisfy { $0 == 0xEE })
        // The limits themselves are accepted, and the total length fits.
        #expect(header(Int64.max, max, Int(UInt32.max)) == nil)
        #expect(u32(page, 4) == UInt32(PcapngEncoder.enhancedPacketLength(capturedLength: max)!))
        #expect(PcapngEncoder.enhancedPacketLength(capturedLength: max)! <= Int(UInt32.max))

        var trailer = [UInt8](repeating: 0, count: 8)
        #expect(throws: PcapEncodingError.capturedLengthOutOfRange(-3)) {
            _ = try trailer.withUnsafeMutableBytes { p in
                try PcapngEncoder.epbTrailer(into: p.baseAddress!, capturedLength: -3)
            }
        }

        // Too small a buffer, for each variable block.
        var small = [UInt8](repeating: 0, count: 20)
        small.withUnsafeMutableBytes { b in
            #expect(throws: PcapEncodingError.bufferTooSmall(needed: 52, available: 20)) {
                try PcapngEncoder.sectionHeader(into: b, version: "1.0")
            }
            #expect(throws: PcapEncodingError.self) {
                try PcapngEncoder.interfaceDescription(into: b, PcapngInterface(linkType: 1, snapLength: 0, name: "x"))
            }
            #expect(throws: PcapEncodingError.bufferTooSmall(needed: 44, available: 20)) {
                try [UInt8](repeating: 1, count: 10).withUnsafeBytes { f in
                    try PcapngEncoder.enhancedPacket(
                        into: b, interface: 0, timestampNanoseconds: 0, frame: f, originalLength: 10)
                }
            }
            #expect(throws: PcapEncodingError.bufferTooSmall(needed: 40, available: 20)) {
                try PcapngEncoder.interfaceStatistics(
                    into: b, interface: 0, timestampNanoseconds: 0, PcapngInterfaceStatistics(received: 1))
            }
            #expect(throws: PcapEncodingError.bufferTooSmall(needed: 32, available: 20)) {
                try [UInt8](repeating: 1, count: 16).withUnsafeBytes { f in
                    try PcapEncoder.record(into: b, timestampNanoseconds: 0, frame: f, originalLength: 16)
                }
            }
        }
        let empty = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        #expect(throws: PcapEncodingError.bufferTooSmall(needed: 24, available: 0)) {
            try PcapngEncoder.interfaceStatistics(
                into: empty, interface: 0, timestampNanoseconds: 0, PcapngInterfaceStatistics())
        }
        #expect(throws: PcapEncodingError.timestampOutOfRange(nanoseconds: -5)) {
            try PcapngEncoder.interfaceStatistics(
                into: empty, interface: 0, timestampNanoseconds: 0, PcapngInterfaceStatistics(endNanoseconds: -5))
        }

        // Strings longer than an option holds.
        let long = String(repeating: "x", count: 65536)
        #expect(throws: PcapEncodingError.optionTooLong(code: 2, length: 65536)) {
            try PcapngEncoder.interfaceDescriptionLength(PcapngInterface(linkType: 1, snapLength: 0, name: long))
        }
        #expect(throws: PcapEncodingError.optionTooLong(code: 11, length: 65536)) {
            try PcapngEncoder.interfaceDescriptionLength(
                PcapngInterface(linkType: 1, snapLength: 0, name: "x", filter: String(long.dropLast())))
        }
        #expect(throws: PcapEncodingError.optionTooLong(code: 4, length: 65536 + 11)) {
            try PcapngEncoder.sectionHeaderLength(version: long)
        }
        #expect(throws: PcapEncodingError.optionTooLong(code: 3, length: 65536)) {
            try PcapngEncoder.sectionHeaderLength(version: "1", os: long)
        }
        // The longest that fits is written.
        #expect(
            (try? PcapngEncoder.interfaceDescriptionLength(
                PcapngInterface(linkType: 1, snapLength: 0, name: String(long.dropLast())))) == 16 + 4 + 65536 + 8 + 8)
    }

    @Test("classic pcap: the header is the nanosecond one, records refuse what 32 bits cannot hold")
    func classic() throws {
        var header = [UInt8](repeating: 0, count: 24)
        _ = header.withUnsafeMutableBytes {
            PcapEncoder.fileHeader(into: $0.baseAddress!, snapLength: 65536, linkType: 276)
        }
        #expect(u32(header, 0) == 0xA1B2_3C4D)
        #expect(header[4..<8] == [2, 0, 4, 0][...] || header[4..<8] == [0, 2, 0, 4][...])
        #expect(u32(header, 16) == 65536)
        #expect(u32(header, 20) == 276)

        func record(_ ts: Int64, _ cap: Int, _ orig: Int) -> Result<[UInt8], PcapEncodingError> {
            let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
            defer { out.deallocate() }
            out.initializeMemory(as: UInt8.self, repeating: 0xEE)
            do {
                _ = try PcapEncoder.recordHeader(
                    into: out.baseAddress!, timestampNanoseconds: ts, capturedLength: cap, originalLength: orig)
                return .success(Array(out))
            } catch {
                #expect(out.allSatisfy { $0 == 0xEE })
                return .failure(error)
            }
        }
        let limit = PcapEncoder.timestampLimitNanoseconds
        #expect(record(-1, 1, 1) == .failure(.timestampOutOfRange(nanoseconds: -1)))
        #expect(record(limit, 1, 1) == .failure(.timestampOutOfRange(nanoseconds: limit)))
        #expect(record(0, -1, 1) == .failure(.capturedLengthOutOfRange(-1)))
        #expect(record(0, 1 << 32, 1 << 32) == .failure(.capturedLengthOutOfRange(1 << 32)))
        #expect(record(0, 5, 4) == .failure(.originalLengthOutOfRange(captured: 5, original: 4)))
        let last = try record(limit - 1, Int(UInt32.max), Int(UInt32.max)).get()
        #expect(u32(last, 0) == UInt32.max)
        #expect(u32(last, 4) == 999_999_999)
        #expect(u32(last, 8) == UInt32.max)
        let first = try record(1_700_000_000_000_000_007, 60, 64).get()
        #expect(u32(first, 0) == 1_700_000_000)
        #expect(u32(first, 4) == 7)
        #expect(u32(first, 8) == 60)
        #expect(u32(first, 12) == 64)
    }

    @Test("section and interface blocks: lengths agree with what is written, options are padded")
    func variableBlocks() throws {
        for version in ["", "1", "12", "123", "1.2.3"] {
            for os in [nil, "", "L", "Linux 6.1.0-28-amd64"] {
                let n = try PcapngEncoder.sectionHeaderLength(version: version, os: os)
                let b = try encoded(n) { b in
                    try PcapngEncoder.sectionHeader(into: b, version: version, os: os)
                }
                #expect(n % 4 == 0)
                #expect(u32(b, 0) == 0x0A0D_0D0A)
                #expect(u32(b, 4) == UInt32(n))
                #expect(u32(b, n - 4) == UInt32(n))
                #expect(u32(b, 8) == 0x1A2B_3C4D)
            }
        }
        for name in ["", "e", "eth0", "enp0s31f6"] {
            for filter in [nil, "", "ip", "tcp port 80"] {
                let i = PcapngInterface(linkType: 276, snapLength: 0, name: name, description: "d", filter: filter)
                let n = try PcapngEncoder.interfaceDescriptionLength(i)
                let b = try encoded(n) { b in
                    try PcapngEncoder.interfaceDescription(into: b, i)
                }
                #expect(n % 4 == 0)
                #expect(u32(b, 0) == 1)
                #expect(u32(b, 4) == UInt32(n))
                #expect(u32(b, n - 4) == UInt32(n))
                #expect(u32(b, n - 8) == 0, "opt_endofopt")
            }
        }
        let all = PcapngInterfaceStatistics(
            startNanoseconds: 1, endNanoseconds: 2, received: 3, interfaceDropped: 4, osDropped: 5, delivered: 6)
        #expect(PcapngEncoder.interfaceStatisticsLength(all) == PcapngEncoder.interfaceStatisticsMaximumSize)
    }
}
