// A read-only, validating view of segments for tools and tests (DESIGN.md
// guarantee 8: nothing in the segment is trusted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "framebus/error.hpp"
#include "framebus/frame.hpp"
#include "framebus/layout.hpp"

namespace framebus {

struct SlotView {
    std::uint32_t index = 0;
    std::uint64_t sequence = 0;  // 0: empty
    bool writing = false;        // being written, or its description changed while we read it
    std::uint64_t holders = 0;   // bit r: reader r holds the slot
    FrameFormat format{};
    std::int64_t capture_ns = 0;
    std::int64_t publish_ns = 0;
};

struct ReaderView {
    std::uint32_t index = 0;
    std::uint32_t pid = 0;
    bool alive = false;  // its OFD lock is held
    std::uint64_t start_time = 0;
    std::uint64_t last_sequence = 0;
    std::uint64_t frames = 0;
    std::uint64_t skipped = 0;
    int held_slot = -1;
};

struct SegmentView {
    std::string name;
    std::uint32_t layout_version = 0;
    std::uint64_t total_size = 0;
    std::uint64_t data_offset = 0;
    std::uint64_t slot_stride = 0;
    std::uint64_t slot_capacity = 0;
    std::uint32_t slot_count = 0;
    std::uint32_t max_readers = 0;
    std::uint32_t leases_per_reader = 0;
    std::int64_t created_realtime_ns = 0;
    std::uint32_t mode = 0;
    std::uint32_t owner_uid = 0;
    std::uint32_t writer_pid = 0;
    std::uint64_t writer_start_time = 0;
    bool writer_alive = false;  // filled by inspect(), not by parse
    layout::WriterState writer_state = layout::WriterState::live;
    std::uint64_t latest_sequence = 0;
    std::uint32_t latest_slot = 0;  // a slot index unless latest_rewriting
    bool latest_rewriting = false;  // a reuse_newest writer is overwriting the newest frame
    std::int64_t heartbeat_ns = 0;
    std::uint64_t frames_published = 0;  // = latest_sequence: sequences count from 1
    std::uint64_t frames_dropped = 0;
    std::uint32_t waiters = 0;  // readers blocked in a wait right now
    bool writer_idle = false;   // capture on demand: the source is closed until a reader attaches
    std::vector<SlotView> slots;
    std::vector<ReaderView> readers;  // entries in use (pid != 0)
};

// Validates and decodes a snapshot of a segment's control region. `bytes` is
// the start of the object (at least the control region); `object_size` is the
// object's real size. Pure: the fuzz target calls it with arbitrary input.
[[nodiscard]] Result<SegmentView> parse_segment(std::span<const std::byte> bytes,
                                                std::uint64_t object_size);

// Opens the named segment read-only, snapshots and validates it, and probes
// the writer's and readers' liveness. Slot descriptions are read like a
// seqlock: a slot whose state changed while it was read is retried, and shown
// as being written if it keeps changing.
[[nodiscard]] Result<SegmentView> inspect(const std::string& name);

// Names of every object in /dev/shm that starts with the framebus magic
// (valid or not), sorted. Objects we may not read are skipped.
[[nodiscard]] std::vector<std::string> list_segments();

enum class SegmentHealth { live, idle, stalled, end_of_stream, stale };
[[nodiscard]] const char* to_string(SegmentHealth health);
// idle: writer alive, its source closed until a reader attaches (--on-demand).
// stalled: writer alive but no frame nor heartbeat for stall_ns.
[[nodiscard]] SegmentHealth health_of(const SegmentView& view, std::int64_t now_ns,
                                      std::int64_t stall_ns = 2'000'000'000);

// Clears the leases and entries of dead readers (exactly: each entry is locked
// before it is cleared). Returns how many entries were reclaimed.
[[nodiscard]] Result<std::size_t> reclaim_dead_readers(const std::string& name);

// Temporaries (segments being built) whose builder died: their writer lock
// is free. Removing one is always safe.
[[nodiscard]] std::vector<std::string> orphaned_temporaries();
[[nodiscard]] Status remove_orphaned_temporary(const std::string& temporary_name);

// Unlinks the named segment; refuses (live_writer) while its writer lives
// unless force. Refuses anything that is not a framebus segment.
[[nodiscard]] Status remove_segment(const std::string& name, bool force);

}  // namespace framebus
