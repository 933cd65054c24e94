import DataPlane
import Rooms

/// What the exposition (`labyrinthctl prometheus`, `GET /metrics`) says of
/// the workers' and the rooms' counters, as tables: a counter added to
/// ``WorkerCounter`` or a field added to ``RoomStats`` is a row here, and a
/// test fails until it has one (or a stated reason not to be shown).
public enum Exposition {
    /// When a family is shown.
    public enum Shown: Sendable {
        case always
        /// With a `[[sink]]` recording.
        case recording
        /// With live taps on (`daemon.max_taps` above 0).
        case taps
    }

    /// A family of worker counters: one sample per worker (label
    /// `worker="N"`), or the workers' total (no worker label), per series.
    public struct WorkerFamily: Sendable {
        public let name: String
        public let type: String
        public let help: String
        /// Each series: its labels beside `worker`, and its counter.
        public let series: [(labels: String, counter: WorkerCounter)]
        public var total = false
        public var shown = Shown.always

        init(
            _ name: String, _ type: String, _ help: String, _ series: [(labels: String, counter: WorkerCounter)],
            total: Bool = false, shown: Shown = .always
        ) {
            self.name = name
            self.type = type
            self.help = help
            self.series = series
            self.total = total
            self.shown = shown
        }

        init(_ name: String, _ type: String, _ help: String, _ counter: WorkerCounter, shown: Shown = .always) {
            self.init(name, type, help, [("", counter)], shown: shown)
        }
    }

    /// A family of room counters: one sample per room (label `room="N"`)
    /// per series.
    public struct RoomFamily: Sendable {
        public let name: String
        public let type: String
        public let help: String
        /// Each series: its labels beside `room`, the field's name (as
        /// `RoomStats` spells it) and its value.
        public let series: [(labels: String, field: String, value: @Sendable (RoomStats) -> Int)]

        init(
            _ name: String, _ type: String, _ help: String,
            _ series: [(labels: String, field: String, value: @Sendable (RoomStats) -> Int)]
        ) {
            self.name = name
            self.type = type
            self.help = help
            self.series = series
        }

        init(
            _ name: String, _ type: String, _ help: String, _ field: String,
            _ value: @Sendable @escaping (RoomStats) -> Int
        ) {
            self.init(name, type, help, [("", field, value)])
        }
    }

    /// The worker families, in the order they are shown. `labyrinth_dropped_total`
    /// also carries the replay's `rx_missed`, and `labyrinth_tap_frames_total`
    /// the frames the taps delivered: neither is a worker's counter.
    public static let workerFamilies: [WorkerFamily] = [
        WorkerFamily(
            "labyrinth_packets_processed_total", "counter", "Frames copied into a page and decoded.", .processed),
        WorkerFamily("labyrinth_bytes_total", "counter", "Captured bytes of the frames taken.", .bytes),
        WorkerFamily(
            "labyrinth_decoded_total", "counter", "Frames by protocol found.",
            [
                ("protocol=\"ipv4\"", .ipv4), ("protocol=\"ipv6\"", .ipv6), ("protocol=\"tcp\"", .tcp),
                ("protocol=\"udp\"", .udp), ("protocol=\"icmp\"", .icmp), ("protocol=\"icmpv6\"", .icmpv6),
                ("protocol=\"arp\"", .arp), ("protocol=\"vlan\"", .vlan), ("protocol=\"other\"", .other),
                ("protocol=\"fragment\"", .fragments),
            ]),
        WorkerFamily(
            "labyrinth_truncated_total", "counter", "Frames with a header cut by the snap length.", .truncated),
        WorkerFamily(
            "labyrinth_oversized_total", "counter", "Frames longer than the largest block (64 KiB), kept cut to it.",
            .oversized),
        WorkerFamily(
            "labyrinth_dropped_total", "counter", "Frames dropped, by reason.",
            [("reason=\"nomem\"", .droppedNoMemory), ("reason=\"kernel\"", .kernelDrops)]),
        WorkerFamily(
            "labyrinth_kernel_packets_total", "counter",
            "Frames the kernel counted for the workers' sockets (PACKET_STATISTICS, drops included).", .kernelPackets),
        WorkerFamily(
            "labyrinth_kernel_count_errors_total", "counter",
            "Reads of the kernel's socket statistics (PACKET_STATISTICS) that failed.", .kernelCountErrors),
        WorkerFamily(
            "labyrinth_no_buffers_total", "counter",
            "uring: receives that found no page in the provided-buffer ring (ENOBUFS).", .noBuffers),
        WorkerFamily(
            "labyrinth_buffer_truncated_total", "counter", "uring: frames longer than their receive buffer.",
            .bufferTruncated),
        WorkerFamily("labyrinth_receive_errors_total", "counter", "Failed receive completions.", .receiveErrors),
        WorkerFamily(
            "labyrinth_vlan_from_metadata_total", "counter",
            "VLAN tags the kernel took out of frames and the workers put back (tp_vlan_tci, PACKET_AUXDATA).",
            .vlanFromMetadata),
        WorkerFamily(
            "labyrinth_uring_errors_total", "counter", "Requests the workers' io_uring refused.", .uringErrors),
        WorkerFamily(
            "labyrinth_replay_frames_total", "counter", "Frames the workers took from replays.", .replayFrames),
        WorkerFamily("labyrinth_flows_created_total", "counter", "TCP and UDP flows started.", .flowsCreated),
        WorkerFamily(
            "labyrinth_icmp_flows_created_total", "counter", "ICMP and ICMPv6 flows started.", .icmpFlowsCreated),
        WorkerFamily(
            "labyrinth_flows_ended_total", "counter", "Flows ended, by IPFIX flowEndReason.",
            [
                ("reason=\"idle\"", .flowsExpired), ("reason=\"active_timeout\"", .flowsActiveTimeout),
                ("reason=\"end_of_flow\"", .flowsClosed), ("reason=\"forced\"", .flowsForced),
                ("reason=\"lack_of_resources\"", .flowsEvicted),
            ]),
        WorkerFamily(
            "labyrinth_flow_records_exported_total", "counter", "Ended flows handed to the exporter.",
            .flowRecordsExported),
        WorkerFamily(
            "labyrinth_flow_export_dropped_total", "counter", "Ended flows the export ring had no room for.",
            .flowExportDropped),
        WorkerFamily("labyrinth_flows_active", "gauge", "Flows in the tables.", .flowsActive),
        WorkerFamily(
            "labyrinth_recording_frames_total", "counter",
            "Frames the [[sink]] recording wrote, and those it did not, by reason.",
            [
                ("result=\"written\"", .written), ("result=\"overload\"", .unwrittenOverload),
                ("result=\"disk_full\"", .unwrittenDiskFull), ("result=\"error\"", .unwrittenError),
                ("result=\"oversized\"", .unwrittenOversized), ("result=\"linktype\"", .unwrittenLinkType),
                ("result=\"filtered\"", .unwrittenFiltered),
            ], total: true, shown: .recording),
        WorkerFamily(
            "labyrinth_recording_written_bytes_total", "counter", "Bytes of frames written (after the snap length).",
            [("", .writtenBytes)], total: true, shown: .recording),
        WorkerFamily(
            "labyrinth_recording_unwritten_bytes_total", "counter",
            "Bytes of frames not written, by reason (overload, disk full).",
            [("reason=\"overload\"", .unwrittenOverloadBytes), ("reason=\"disk_full\"", .unwrittenDiskFullBytes)],
            total: true, shown: .recording),
        WorkerFamily(
            "labyrinth_recording_written_late_total", "counter",
            "Frames written into a file due to rotate, while no next file was ready (never lost).",
            [("", .writtenLate)], total: true, shown: .recording),
        WorkerFamily(
            "labyrinth_recording_files_started_total", "counter", "Files the workers started.",
            [("", .filesStarted)], total: true, shown: .recording),
        WorkerFamily(
            "labyrinth_recording_writes_total", "counter", "Write requests (writev) the recording made.",
            [("", .writes)], total: true, shown: .recording),
        WorkerFamily(
            "labyrinth_recording_write_iovecs_total", "counter", "Iovecs in those writes (one per run of blocks).",
            [("", .writeIovecs)], total: true, shown: .recording),
        WorkerFamily(
            "labyrinth_tap_frames_total", "counter",
            "Frames for live taps: copied by the workers, dropped for want of room (the reader was behind), delivered to clients.",
            [("result=\"copied\"", .tapCopied), ("result=\"dropped\"", .tapDropped)], total: true, shown: .taps),
        WorkerFamily("labyrinth_worker_heartbeat_total", "counter", "Loops of each worker's poll.", .heartbeat),
        WorkerFamily("labyrinth_worker_polls_total", "counter", "Polls that found work.", .polls),
        WorkerFamily(
            "labyrinth_worker_budget_exhausted_total", "counter",
            "Polls that used their whole budget (more was waiting).", .budgetExhausted),
        WorkerFamily(
            "labyrinth_worker_sleeps_total", "counter", "Times a worker slept waiting for its interrupt.", .sleeps),
    ]

    /// Worker counters shown elsewhere, with where.
    public static let workerCountersElsewhere: [WorkerCounter: String] = [
        .malformedBase: "labyrinth_malformed_total, one series per reason"
    ]

    /// The room families, in the order they are shown.
    public static let roomFamilies: [RoomFamily] = [
        RoomFamily("labyrinth_room_pages", "gauge", "Pages in each room.", "pages") { $0.pages },
        RoomFamily(
            "labyrinth_room_watermark_pages", "gauge", "Each room's watermarks (min, low, high), in pages.",
            [
                ("level=\"min\"", "watermarks", { $0.watermarks.min }),
                ("level=\"low\"", "watermarks", { $0.watermarks.low }),
                ("level=\"high\"", "watermarks", { $0.watermarks.high }),
            ]),
        RoomFamily("labyrinth_room_free_pages", "gauge", "Free pages in each room.", "freePages") { $0.freePages },
        RoomFamily("labyrinth_room_in_use_pages", "gauge", "Pages allocated in each room.", "inUsePages") {
            $0.inUsePages
        },
        RoomFamily(
            "labyrinth_room_in_use_high_water_pages", "gauge", "The most pages ever allocated at once.",
            "inUseHighWater"
        ) { $0.inUseHighWater },
        RoomFamily(
            "labyrinth_room_cache_pages", "gauge", "Pages in the owner's order-0 cache.", "cachePages"
        ) { $0.cachePages },
        RoomFamily(
            "labyrinth_room_alloc_total", "counter", "Allocations, by path.",
            [("path=\"fast\"", "allocFast", { $0.allocFast }), ("path=\"slow\"", "allocSlow", { $0.allocSlow })]),
        RoomFamily(
            "labyrinth_room_alloc_empty_total", "counter", "Allocations that found their order's free list empty.",
            Self.perOrder("allocEmpty") { $0.allocEmpty }),
        RoomFamily(
            "labyrinth_room_alloc_fail_total", "counter", "Failed allocations, by order.",
            Self.perOrder("allocFail") { $0.allocFail }),
        RoomFamily(
            "labyrinth_room_free_blocks", "gauge", "Free buddy blocks, by order.",
            Self.perOrder("freeBlocks") { $0.freeBlocks }),
        RoomFamily(
            "labyrinth_room_reserve_dips_total", "counter", "Atomic allocations served from the emergency reserve.",
            "reserveDips"
        ) { $0.reserveDips },
        RoomFamily(
            "labyrinth_room_low_watermark_events_total", "counter", "Times free pages fell below low.",
            "lowWatermarkEvents"
        ) { $0.lowWatermarkEvents },
        RoomFamily(
            "labyrinth_room_failure_warnings_total", "counter", "Allocation failures warned of (rate-limited).",
            "failureWarnings"
        ) { $0.failureWarnings },
        RoomFamily(
            "labyrinth_room_waits_total", "counter", "Sleeping allocations that waited for pages to come home.",
            "waits"
        ) { $0.waits },
        RoomFamily(
            "labyrinth_room_sleep_in_atomic_total", "counter",
            "Sleeping allocations asked for in atomic context (a bug where it is not zero).", "sleepInAtomic"
        ) { $0.sleepInAtomic },
        RoomFamily(
            "labyrinth_room_refill_total", "counter", "Refills of the owner's cache from the buddy lists.", "refill"
        ) { $0.refill },
        RoomFamily("labyrinth_room_free_local_total", "counter", "Blocks freed by the owner.", "freeLocal") {
            $0.freeLocal
        },
        RoomFamily("labyrinth_room_free_remote_total", "counter", "Blocks freed by other threads.", "freeRemote") {
            $0.freeRemote
        },
        RoomFamily(
            "labyrinth_room_remote_in_flight", "gauge", "Blocks sent home by other threads, not yet reclaimed.",
            "remoteInFlight"
        ) { $0.remoteInFlight },
        RoomFamily(
            "labyrinth_room_fragments_allocated_total", "counter",
            "Frames' fragments handed out (shared chunks and blocks of their own).", "fragmentsAllocated"
        ) { $0.fragmentsAllocated },
        RoomFamily("labyrinth_room_fragments_in_use", "gauge", "Fragments out now.", "fragmentsInUse") {
            $0.fragmentsInUse
        },
        RoomFamily(
            "labyrinth_room_fragment_bytes_in_use", "gauge", "Bytes of the fragments out now.", "fragmentBytesInUse"
        ) { $0.fragmentBytesInUse },
        RoomFamily(
            "labyrinth_room_chunks_total", "counter", "Chunks taken for fragments, by how.",
            [
                ("how=\"allocated\"", "chunksAllocated", { $0.chunksAllocated }),
                ("how=\"reused\"", "chunksReused", { $0.chunksReused }),
            ]),
        RoomFamily(
            "labyrinth_room_chunks_smaller_total", "counter",
            "Chunks taken smaller than the configured size: the room could not give a whole one.", "chunksSmaller"
        ) { $0.chunksSmaller },
        RoomFamily("labyrinth_room_chunks_in_use", "gauge", "Chunks holding fragments now.", "chunksInUse") {
            $0.chunksInUse
        },
        RoomFamily("labyrinth_room_reclaimed_total", "counter", "Remote frees brought home.", "reclaimed") {
            $0.reclaimed
        },
    ]

    /// Room fields not shown as their own series, with why.
    public static let roomFieldsElsewhere: [String: String] = [
        "room": "the label of every room series",
        "fragmentsPerChunk": "a ratio: labyrinth_room_fragments_allocated_total over labyrinth_room_chunks_total",
    ]

    /// One series per order (0...`Room.maxOrder`) of an array field.
    static func perOrder(
        _ field: String, _ values: @Sendable @escaping (RoomStats) -> [Int]
    ) -> [(labels: String, field: String, value: @Sendable (RoomStats) -> Int)] {
        (0...Room.maxOrder).map { order in
            ("order=\"\(order)\"", field, { s in order < values(s).count ? values(s)[order] : 0 })
        }
    }
}
