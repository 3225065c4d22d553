// The segment layout is a binary contract between processes built at
// different times. If a test here fails, you changed the layout:
// bump layout::kLayoutVersion and update the expected values together.
#include <gtest/gtest.h>

#include <cstddef>

#include "framebus/layout.hpp"

namespace framebus::layout {
namespace {

// Version 3 has version 2's offsets; it adds kRewritingSlot in `latest`.
TEST(Layout, VersionThreeHasTheseOffsets) {
    ASSERT_EQ(kLayoutVersion, 3u) << "layout changed: update the expected offsets below";
    EXPECT_EQ(offsetof(SegmentHeader, magic), 0u);
    EXPECT_EQ(offsetof(SegmentHeader, layout_version), 8u);
    EXPECT_EQ(offsetof(SegmentHeader, header_size), 12u);
    EXPECT_EQ(offsetof(SegmentHeader, total_size), 16u);
    EXPECT_EQ(offsetof(SegmentHeader, data_offset), 24u);
    EXPECT_EQ(offsetof(SegmentHeader, slot_stride), 32u);
    EXPECT_EQ(offsetof(SegmentHeader, slot_capacity), 40u);
    EXPECT_EQ(offsetof(SegmentHeader, slot_count), 48u);
    EXPECT_EQ(offsetof(SegmentHeader, max_readers), 52u);
    EXPECT_EQ(offsetof(SegmentHeader, leases_per_reader), 56u);
    EXPECT_EQ(offsetof(SegmentHeader, created_realtime_ns), 64u);
    EXPECT_EQ(offsetof(SegmentHeader, mode), 72u);
    EXPECT_EQ(offsetof(SegmentHeader, owner_uid), 76u);
    EXPECT_EQ(offsetof(SegmentHeader, writer_pid), 80u);
    EXPECT_EQ(offsetof(SegmentHeader, writer_start_time), 88u);
    EXPECT_EQ(offsetof(SegmentHeader, name), 128u);
    EXPECT_EQ(offsetof(SegmentHeader, latest), 192u);
    EXPECT_EQ(offsetof(SegmentHeader, publish_futex), 200u);
    EXPECT_EQ(offsetof(SegmentHeader, waiters), 204u);
    EXPECT_EQ(offsetof(SegmentHeader, writer_state), 208u);
    EXPECT_EQ(offsetof(SegmentHeader, heartbeat_ns), 256u);
    EXPECT_EQ(offsetof(SegmentHeader, frames_dropped), 264u);
    EXPECT_EQ(offsetof(SegmentHeader, attach_futex), 272u);
    EXPECT_EQ(offsetof(SegmentHeader, writer_idle), 276u);
    EXPECT_EQ(sizeof(SegmentHeader), 320u);

    EXPECT_EQ(offsetof(SlotHeader, state), 0u);
    EXPECT_EQ(offsetof(SlotHeader, holders), 8u);
    EXPECT_EQ(offsetof(SlotHeader, width), 16u);
    EXPECT_EQ(offsetof(SlotHeader, height), 20u);
    EXPECT_EQ(offsetof(SlotHeader, cv_type), 24u);
    EXPECT_EQ(offsetof(SlotHeader, pixel_format), 28u);
    EXPECT_EQ(offsetof(SlotHeader, bytes), 32u);
    EXPECT_EQ(offsetof(SlotHeader, capture_ns), 40u);
    EXPECT_EQ(offsetof(SlotHeader, publish_ns), 48u);
    EXPECT_EQ(offsetof(SlotHeader, plane_count), 56u);
    EXPECT_EQ(offsetof(SlotHeader, planes), 64u);
    EXPECT_EQ(sizeof(SlotHeader::PlaneLayout), 16u);
    EXPECT_EQ(sizeof(SlotHeader), 128u);

    EXPECT_EQ(offsetof(ReaderEntry, pid), 0u);
    EXPECT_EQ(offsetof(ReaderEntry, start_time), 8u);
    EXPECT_EQ(offsetof(ReaderEntry, last_sequence), 16u);
    EXPECT_EQ(offsetof(ReaderEntry, frames), 24u);
    EXPECT_EQ(offsetof(ReaderEntry, skipped), 32u);
    EXPECT_EQ(sizeof(ReaderEntry), 64u);
    EXPECT_EQ(kMagic, 0x5355424d41524646ULL);
}

TEST(Layout, HotWordsShareOneLineAwayFromWriteOnceFields) {
    // latest, the futex word, the waiter count and the writer state are what a
    // publish and a wait touch: one cache line, and not the line of the
    // geometry, nor the heartbeat's.
    EXPECT_EQ(offsetof(SegmentHeader, latest) / kCacheLine,
              offsetof(SegmentHeader, waiters) / kCacheLine);
    EXPECT_EQ(offsetof(SegmentHeader, latest) / kCacheLine,
              offsetof(SegmentHeader, writer_state) / kCacheLine);
    EXPECT_NE(offsetof(SegmentHeader, latest) / kCacheLine,
              offsetof(SegmentHeader, heartbeat_ns) / kCacheLine);
    EXPECT_NE(offsetof(SegmentHeader, latest) / kCacheLine,
              offsetof(SegmentHeader, slot_count) / kCacheLine);
    EXPECT_EQ(alignof(SlotHeader), kCacheLine);
}

TEST(Layout, PackedWordsRoundTrip) {
    const std::uint64_t latest = pack_latest(123456789, 200);
    EXPECT_EQ(latest_sequence(latest), 123456789u);
    EXPECT_EQ(latest_slot(latest), 200u);
    EXPECT_EQ(committed_state(7) >> 1, 7u);
    EXPECT_EQ(writing_state(7) & kWriting, kWriting);
    EXPECT_NE(writing_state(7), committed_state(7));
}

}  // namespace
}  // namespace framebus::layout
