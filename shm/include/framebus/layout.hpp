// The binary layout of a framebus segment. See shm/PROTOCOL.md, which is the
// one description of the protocol; comments here point to its sections.
//
// Everything in this file lives in shared memory: fixed-width types only,
// no pointers, std::atomic only where it is always lock-free (asserted below).
// Changing any size or offset here requires bumping kLayoutVersion; the test
// tests/unit/layout_test.cpp fails until you do.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace framebus::layout {

inline constexpr std::uint64_t kMagic = 0x5355424d41524646ULL;  // "FFRAMBUS" little-endian
inline constexpr std::uint32_t kLayoutVersion = 3;
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kPage = 4096;

inline constexpr std::uint32_t kMaxReaders = 64;  // one bit each in SlotHeader::holders
inline constexpr std::uint32_t kMaxLeasesPerReader = 16;
inline constexpr std::uint32_t kMaxSlots = 255;  // slot index fits 8 bits of `latest`
// `latest`'s slot while a reuse_newest writer rewrites the newest frame's slot
// (PROTOCOL.md "Reusing the newest slot"): the sequence stays, no slot has it.
inline constexpr std::uint32_t kRewritingSlot = 0xff;
static_assert(kRewritingSlot >= kMaxSlots);
inline constexpr std::size_t kMaxNameLength = 63;

// OFD lock bytes on the segment's file (PROTOCOL.md "Liveness").
inline constexpr std::int64_t kWriterLockByte = 0;
inline constexpr std::int64_t reader_lock_byte(std::uint32_t reader) {
    return 1 + reader;
}

// SlotHeader::state: (sequence << 1) | kWriting; 0 means empty or abandoned.
inline constexpr std::uint64_t kWriting = 1;
inline constexpr std::uint64_t committed_state(std::uint64_t seq) {
    return seq << 1;
}
inline constexpr std::uint64_t writing_state(std::uint64_t seq) {
    return (seq << 1) | kWriting;
}

// SegmentHeader::latest: (sequence << 8) | slot index; 0 means no frame yet;
// slot kRewritingSlot: frame `sequence` was the newest and is being overwritten.
inline constexpr std::uint64_t pack_latest(std::uint64_t seq, std::uint32_t slot) {
    return (seq << 8) | slot;
}
inline constexpr std::uint64_t latest_sequence(std::uint64_t latest) {
    return latest >> 8;
}
inline constexpr std::uint32_t latest_slot(std::uint64_t latest) {
    return static_cast<std::uint32_t>(latest & 0xff);
}

enum class WriterState : std::uint32_t {
    live = 0,           // a writer is (or was, if its lock is gone) publishing
    end_of_stream = 1,  // the writer said no more frames will come
    replaced = 2,       // the writer moved to a new segment under the same name
};

struct alignas(kCacheLine) SegmentHeader {
    // --- line 0: geometry, written once before layout_version is published ---
    std::uint64_t magic;
    // Written last, with release, by the builder. Nobody loads it through a
    // mapping: validation reads the header with pread() (a truncated object
    // cannot SIGBUS), and the builder's release store plus the kernel's page
    // cache make every field below visible to that read once it sees the
    // version (PROTOCOL.md "Validation").
    std::atomic<std::uint32_t> layout_version;
    std::uint32_t header_size;  // sizeof(SegmentHeader)
    std::uint64_t total_size;   // bytes of the whole object
    std::uint64_t data_offset;  // page-aligned start of slot data = control region size
    std::uint64_t slot_stride;  // page-aligned distance between slots' data
    std::uint64_t slot_capacity;
    std::uint32_t slot_count;
    std::uint32_t max_readers;
    std::uint32_t leases_per_reader;  // leases one reader may hold at once (PROTOCOL.md)
    std::uint32_t reserved0;

    // --- line 1: identity, written once ---
    std::int64_t created_realtime_ns;
    std::uint32_t mode;       // permission bits the object was created with
    std::uint32_t owner_uid;  // creator's uid
    std::uint32_t writer_pid;
    std::uint32_t reserved1;
    std::uint64_t writer_start_time;  // /proc/<pid>/stat field 22, the pid-reuse guard
    std::uint8_t reserved2[32];

    // --- line 2: the name (NUL-terminated) ---
    char name[kMaxNameLength + 1];

    // --- line 3: the publication line: all a commit and a waiting reader touch ---
    std::atomic<std::uint64_t> latest;         // pack_latest(seq, slot)
    std::atomic<std::uint32_t> publish_futex;  // bumped on every publish and state change
    std::atomic<std::uint32_t> waiters;        // readers inside a futex wait
    std::atomic<std::uint32_t> writer_state;   // WriterState; read by every wait
    std::uint8_t reserved3[44];

    // --- line 4: writer status for tools, written by the writer's upkeep ---
    std::atomic<std::int64_t> heartbeat_ns;     // steady clock; "stalled", never "dead"
    std::atomic<std::uint64_t> frames_dropped;  // no free slot: dropped, never waited
    // Capture on demand (PROTOCOL.md "Attaching wakes the writer"): bumped by
    // a reader once it has claimed its entry, then woken; a writer with no
    // readers sleeps on it instead of polling.
    std::atomic<std::uint32_t> attach_futex;
    std::atomic<std::uint32_t> writer_idle;  // 1: the source is closed until a reader attaches
    std::uint8_t reserved4[40];
};

struct alignas(kCacheLine) SlotHeader {
    // --- line 0: the two words of the lease handshake (PROTOCOL.md "Leasing"),
    // then the frame's description. The description is written by the writer
    // only while the slot is WRITING and read by readers only under a lease:
    // plain fields, ordered by the handshake (see PROTOCOL.md).
    std::atomic<std::uint64_t> state;    // committed_state / writing_state / 0
    std::atomic<std::uint64_t> holders;  // bit r set while reader r holds or tries
    std::uint32_t width;
    std::uint32_t height;
    std::int32_t cv_type;  // OpenCV type of the whole frame, e.g. CV_8UC3 == 16
    std::uint32_t pixel_format;
    std::uint64_t bytes;      // end of the last plane
    std::int64_t capture_ns;  // steady clock
    std::int64_t publish_ns;  // steady clock
    std::uint32_t plane_count;
    std::uint32_t reserved0;

    // --- line 1: where each plane lies in the slot ---
    struct PlaneLayout {
        std::uint64_t offset;  // from the slot's start
        std::uint64_t stride;  // bytes per row
    } planes[3];
    std::uint8_t reserved1[16];
};

struct alignas(kCacheLine) ReaderEntry {
    // Written by the reader that owns the entry (its OFD lock byte says so),
    // read by the writer and tools for statistics only: relaxed everywhere.
    std::atomic<std::uint32_t> pid;  // 0 = free
    std::uint32_t reserved0;
    std::atomic<std::uint64_t> start_time;
    std::atomic<std::uint64_t> last_sequence;
    std::atomic<std::uint64_t> frames;
    std::atomic<std::uint64_t> skipped;
    std::uint8_t reserved1[24];
};

// Shared-memory atomics must be lock-free (a lock would live in one process)
// and therefore address-free.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

static_assert(sizeof(SegmentHeader) == 5 * kCacheLine);
static_assert(offsetof(SegmentHeader, layout_version) == 8);
static_assert(offsetof(SegmentHeader, leases_per_reader) == 56);
static_assert(offsetof(SegmentHeader, created_realtime_ns) == 64);
static_assert(offsetof(SegmentHeader, name) == 128);
static_assert(offsetof(SegmentHeader, latest) == 192);
static_assert(offsetof(SegmentHeader, writer_state) == 208);
static_assert(offsetof(SegmentHeader, heartbeat_ns) == 256);
static_assert(offsetof(SegmentHeader, attach_futex) == 272);
static_assert(offsetof(SegmentHeader, writer_idle) == 276);
static_assert(sizeof(SlotHeader) == 2 * kCacheLine);
static_assert(offsetof(SlotHeader, plane_count) == 56);
static_assert(offsetof(SlotHeader, planes) == kCacheLine);
static_assert(sizeof(ReaderEntry) == kCacheLine);

// Offsets inside the control region.
inline constexpr std::size_t slots_offset() {
    return sizeof(SegmentHeader);
}
inline constexpr std::size_t readers_offset(std::uint32_t slot_count) {
    return slots_offset() + std::size_t{slot_count} * sizeof(SlotHeader);
}
inline constexpr std::size_t control_size(std::uint32_t slot_count, std::uint32_t max_readers) {
    return readers_offset(slot_count) + std::size_t{max_readers} * sizeof(ReaderEntry);
}
inline constexpr std::uint64_t round_up(std::uint64_t n, std::uint64_t to) {
    return (n + to - 1) / to * to;
}

}  // namespace framebus::layout
