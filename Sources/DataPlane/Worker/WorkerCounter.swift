import Packet
import Rooms

/// A worker's counters, written only by the worker.
///
/// Accounting is exact: `received = processed + droppedNoMemory` (received
/// is not stored: ``WorkerShared/received`` adds them up), and every processed
/// frame lands in the decode counters, `truncated`, a malformation or none of
/// them (a frame with nothing to decode, e.g. zero bytes).
public enum WorkerCounter: Int, CaseIterable, Sendable {
    /// Frames copied into a page and decoded.
    case processed
    /// Captured bytes of the frames taken from the source.
    case bytes
    /// No page could be allocated (`.atomic` failed): the frame is dropped.
    case droppedNoMemory
    /// Frames larger than the largest block (64 KiB): copied up to 64 KiB.
    case oversized
    /// A header cut short by the snap length.
    case truncated
    /// Decoded protocols, in the bit order of `Protocols`.
    case vlan, ipv4, ipv6, arp, tcp, udp, icmp, icmpv6, other, fragments
    /// TCP and UDP flows started (both directions are one flow).
    case flowsCreated
    /// ICMP and ICMPv6 flows started.
    case icmpFlowsCreated
    /// Flows that idled out (IPFIX flowEndReason 1).
    case flowsExpired
    /// Flow records cut by the active timeout (2): the flow goes on.
    case flowsActiveTimeout
    /// Flows ended in TCP: FIN both ways or RST, then the linger (3).
    case flowsClosed
    /// Flows forced out: shutdown, the end of a replay, a flush (4).
    case flowsForced
    /// Flows evicted because the table was full, for a new one (5).
    case flowsEvicted
    /// Flows in the table now (published after each poll).
    case flowsActive
    /// Flow records handed to the export ring, and those it had no room for.
    case flowRecordsExported
    case flowExportDropped
    /// Bumped on every loop of the NAPI poll: a moving heartbeat means alive.
    case heartbeat
    /// Polls that found work, and polls that used up the whole budget.
    case polls
    case budgetExhausted
    /// Times the worker slept waiting for its interrupt.
    case sleeps
    /// Live capture: frames the kernel counted for the worker's socket
    /// (PACKET_STATISTICS, kernel drops included), and those it dropped
    /// because the ring or socket buffer was full. 64-bit running totals.
    case kernelPackets
    case kernelDrops
    /// uring: completions with ENOBUFS (the provided-buffer ring was empty
    /// because the room could not refill it; frames wait in the socket).
    case noBuffers
    /// uring: frames longer than their receive buffer, kept up to it and
    /// decoded as cut.
    case bufferTruncated
    /// Live capture: failed receive completions other than ENOBUFS.
    case receiveErrors
    /// uring: frames whose outer VLAN tag the kernel had moved into the
    /// socket buffer's metadata, put back from PACKET_AUXDATA.
    case vlanFromMetadata
    /// Requests the worker's io_uring refused (arming, submitting).
    case uringErrors
    /// Failed reads of the kernel's socket statistics (PACKET_STATISTICS).
    case kernelCountErrors
    /// Frames taken from the replay queue and finished with (the file's
    /// mapping may go once every dispatched frame is counted here).
    case replayFrames
    /// Recording: frames written whole to the worker's file, and their
    /// captured bytes (the frame, after the sink's snap length).
    case written
    case writtenBytes
    /// Recording: frames not written because the pages in flight reached
    /// their cap (the disk is behind), and their bytes.
    case unwrittenOverload
    case unwrittenOverloadBytes
    /// Recording: frames not written for want of space (ENOSPC, EDQUOT, a
    /// short write, below `min_free`), and their bytes.
    case unwrittenDiskFull
    case unwrittenDiskFullBytes
    /// Recording: frames whose write failed otherwise (the errno is noted).
    case unwrittenError
    /// Recording: frames larger than the largest block, cut when copied,
    /// never written as if whole.
    case unwrittenOversized
    /// Recording in classic pcap: frames of a second link type, which one
    /// pcap file cannot hold.
    case unwrittenLinkType
    /// Recording: frames the sink's own filter did not match.
    case unwrittenFiltered
    /// Recording: files started (the first, then one per rotation).
    case filesStarted
    /// Recording: writes submitted, and their iovecs (blocks that follow
    /// each other in a chunk share one: a chunk's run is one iovec).
    case writes
    case writeIovecs
    /// Recording: frames written into a file that was due to rotate (its
    /// interval over, or its size reached) while the control thread had no
    /// next file ready yet: each went into the older file, never lost.
    case writtenLate
    /// Live taps: frames copied into a tap's ring, and frames a tap
    /// matched but had no room for (its reader is behind, or gone).
    case tapCopied
    case tapDropped
    /// Per malformation reason (Malformation.rawValue, 1...).
    case malformedBase

    /// How many counter slots a worker has (the reasons follow
    /// `malformedBase`, then the histograms' buckets).
    public static var slotCount: Int { histogramBase + WorkerHistogram.allCases.count * WorkerHistogram.slots }

    /// The first slot of the histograms (``WorkerHistogram``).
    @inlinable
    public static var histogramBase: Int { malformedBase.rawValue &+ Malformation.caseCount }

    /// The slot of a malformation reason.
    @inlinable
    public static func malformed(_ m: Malformation) -> Int { malformedBase.rawValue + Int(m.rawValue) }

    /// The name in reports and JSON.
    public var name: String {
        switch self {
        case .processed: return "processed"
        case .bytes: return "bytes"
        case .droppedNoMemory: return "dropped_nomem"
        case .oversized: return "oversized"
        case .truncated: return "truncated"
        case .ipv4: return "ipv4"
        case .ipv6: return "ipv6"
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .icmp: return "icmp"
        case .icmpv6: return "icmpv6"
        case .arp: return "arp"
        case .vlan: return "vlan"
        case .other: return "other"
        case .fragments: return "fragments"
        case .flowsCreated: return "flows_created"
        case .icmpFlowsCreated: return "icmp_flows_created"
        case .flowsExpired: return "flows_expired"
        case .flowsActiveTimeout: return "flows_active_timeout"
        case .flowsClosed: return "flows_closed"
        case .flowsForced: return "flows_forced"
        case .flowsEvicted: return "flows_evicted"
        case .flowsActive: return "flows_active"
        case .flowRecordsExported: return "flow_records_exported"
        case .flowExportDropped: return "flow_export_dropped"
        case .heartbeat: return "heartbeat"
        case .polls: return "polls"
        case .budgetExhausted: return "budget_exhausted"
        case .sleeps: return "sleeps"
        case .kernelPackets: return "kernel_packets"
        case .kernelDrops: return "kernel_drops"
        case .noBuffers: return "no_buffers"
        case .bufferTruncated: return "buffer_truncated"
        case .receiveErrors: return "receive_errors"
        case .vlanFromMetadata: return "vlan_from_metadata"
        case .uringErrors: return "uring_errors"
        case .kernelCountErrors: return "kernel_count_errors"
        case .replayFrames: return "replay_frames"
        case .written: return "written"
        case .writtenBytes: return "written_bytes"
        case .unwrittenOverload: return "unwritten_overload"
        case .unwrittenOverloadBytes: return "unwritten_overload_bytes"
        case .unwrittenDiskFull: return "unwritten_disk_full"
        case .unwrittenDiskFullBytes: return "unwritten_disk_full_bytes"
        case .unwrittenError: return "unwritten_error"
        case .unwrittenOversized: return "unwritten_oversized"
        case .unwrittenLinkType: return "unwritten_linktype"
        case .unwrittenFiltered: return "unwritten_filtered"
        case .filesStarted: return "files_started"
        case .writes: return "writes"
        case .writeIovecs: return "write_iovecs"
        case .writtenLate: return "written_late"
        case .tapCopied: return "tap_copied"
        case .tapDropped: return "tap_dropped"
        case .malformedBase: return "malformed"
        }
    }
}
