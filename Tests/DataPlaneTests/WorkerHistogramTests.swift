import DataPlane
import Packet
import Rooms
import Testing

/// The workers' fixed-bucket histograms: bounds, the bucket search, and the
/// counter layout they sit in.
@Suite("Worker histograms")
struct WorkerHistogramTests {
    @Test("each value lands in the first bucket whose bound it does not exceed; past the last, +Inf")
    func buckets() {
        for h in WorkerHistogram.allCases {
            #expect(h.bucket(0) == 0)
            #expect(h.bucket(h.first) == 0)
            for i in 1..<WorkerHistogram.finiteBuckets {
                #expect(h.bound(i) == h.bound(i - 1) << h.shift)
                #expect(h.bucket(h.bound(i - 1) + 1) == i, "\(h) \(i)")
                #expect(h.bucket(h.bound(i)) == i, "\(h) \(i)")
            }
            let last = h.bound(WorkerHistogram.finiteBuckets - 1)
            #expect(h.bucket(last + 1) == WorkerHistogram.finiteBuckets)
            #expect(h.bucket(Int.max) == WorkerHistogram.finiteBuckets)
        }
        #expect(WorkerHistogram.framesPerPoll.bound(11) == 2048)
        #expect(WorkerHistogram.writeLatency.bound(0) == 1_000)
    }

    @Test("observations fill their buckets and the sum; the histograms follow the malformation counters")
    func layout() {
        #expect(Malformation.caseCount == Malformation.allCases.count)
        #expect(WorkerCounter.histogramBase == WorkerCounter.malformed(Malformation.allCases.last!) + 1)
        #expect(
            WorkerCounter.slotCount
                == WorkerCounter.histogramBase + WorkerHistogram.allCases.count * WorkerHistogram.slots)
        let counters = SingleWriterCounters.allocate(count: WorkerCounter.slotCount)
        defer { counters.deallocate() }
        for n in [1, 2, 3, 64, 64, 5000] { counters.observe(.framesPerPoll, n) }
        counters.observe(.writeLatency, 3_000)
        let frames = counters.reading(.framesPerPoll)
        #expect(frames.buckets == [1, 1, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1])
        #expect(frames.sum == 5134 && frames.count == 6)
        let latency = counters.reading(.writeLatency)
        #expect(latency.buckets[1] == 1 && latency.count == 1 && latency.sum == 3_000)
        // Nothing else moved: the malformation counters end before them.
        for m in Malformation.allCases { #expect(counters.load(WorkerCounter.malformed(m)) == 0) }
    }
}
