// The lock-free protocol under ThreadSanitizer: a writer thread and reader
// threads drive detail/protocol.hpp over ONE buffer, so every access to a
// slot's bytes is at the same address in every thread and TSan can relate
// them. (Separate mappings of a segment have different addresses: TSan would
// see nothing. The multi-process tests cover the real mappings.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "framebus/detail/protocol.hpp"
#include "test_support.hpp"

namespace framebus::detail {
namespace {

struct Params {
    std::uint32_t frame_bytes;
    std::uint32_t latest_readers;
    std::uint32_t next_readers;
    // The writer's whole slot choice, overwriting the newest frame once
    // every reader has it (acquire_hot_slot with reuse_newest), instead of
    // acquire_slot's plain search.
    bool reuse_newest = false;
};
void PrintTo(const Params& p, std::ostream* os) {
    *os << p.frame_bytes << " B, " << p.latest_readers << "+" << p.next_readers << " readers"
        << (p.reuse_newest ? ", reuse_newest" : "");
}

class ProtocolThreads : public ::testing::TestWithParam<Params> {};

struct AlignedFree {
    void operator()(std::byte* p) const { std::free(p); }
};

TEST_P(ProtocolThreads, ReadersNeverSeeATornFrameAndNextReadersLoseNothingSilently) {
    const Params p = GetParam();
    const std::uint32_t readers = p.latest_readers + p.next_readers;
    const std::uint32_t slots = readers + 2;
    const std::size_t control = layout::round_up(layout::control_size(slots, readers), 64);
    const std::size_t total = control + std::size_t{slots} * p.frame_bytes;
    std::unique_ptr<std::byte, AlignedFree> memory(
        static_cast<std::byte*>(std::aligned_alloc(64, layout::round_up(total, 64))));
    std::memset(memory.get(), 0, total);
    const ControlView c = control_view(memory.get(), slots);
    std::byte* data = memory.get() + control;
    const FrameFormat format{p.frame_bytes, 1, 0, PixelFormat::gray8, p.frame_bytes};

    std::atomic<std::uint64_t> torn{0};
    std::atomic<std::uint64_t> corrupt{0};
    std::atomic<bool> writer_failed{false};
    std::vector<std::uint64_t> received(readers), skipped(readers);
    std::uint64_t published = 0;
    std::uint64_t reused = 0;  // frames written over the newest one

    std::vector<std::thread> threads;
    for (std::uint32_t r = 0; r < readers; ++r) {
        threads.emplace_back([&, r] {
            const bool next_mode = r >= p.latest_readers;
            const std::uint64_t bit = std::uint64_t{1} << r;
            std::uint64_t last = 0;
            // As Reader::open: the entry's start, then its pid (release).
            c.readers[r].last_sequence.store(0, std::memory_order_relaxed);
            c.readers[r].pid.store(1000 + r, std::memory_order_release);
            // With reuse_newest, latest readers poll latest() without
            // waiting (a viewer redrawing its frame): they lease the newest
            // frame again and again while the writer overwrites its slot.
            const bool polls = p.reuse_newest && !next_mode;
            for (;;) {
                if (polls) {
                    if (writer_state(c) != layout::WriterState::live) break;
                } else {
                    const Woken woken = wait_for_newer(c, last, 50'000'000);
                    if (woken == Woken::state_changed) break;
                    if (woken != Woken::newer) continue;
                }
                HoldError error;
                auto held = next_mode ? hold_next(c, slots, last, bit, nullptr, error)
                                      : hold_latest(c, slots, bit, nullptr, error);
                if (!held) {
                    // An honest writer never looks corrupt, also while it
                    // rewrites the newest frame's slot.
                    corrupt += error == HoldError::corrupt;
                    continue;
                }
                const std::byte* frame = data + std::size_t{held->slot} * p.frame_bytes;
                torn += test::check_frame(frame, p.frame_bytes, held->seq) != 0;
                if (held->seq <= last) {  // latest() of a frame already taken
                    release_hold(c, held->slot, bit);
                    continue;
                }
                // As make_lease: the reader's statistic the writer's choice reads.
                c.readers[r].last_sequence.store(held->seq, std::memory_order_relaxed);
                release_hold(c, held->slot, bit);
                skipped[r] += held->seq - last - 1;
                last = held->seq;
                ++received[r];
            }
        });
    }
    threads.emplace_back([&] {
        std::uint32_t cursor = 0;
        SlotHistory history(slots);
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(800);
        std::uint64_t seq = 1;
        // Every reader attached first, as the process tests do: none misses frame 1.
        for (std::uint32_t r = 0; r < readers; ++r)
            while (c.readers[r].pid.load(std::memory_order_acquire) == 0) std::this_thread::yield();
        while (std::chrono::steady_clock::now() < end) {
            auto slot = p.reuse_newest
                            ? acquire_hot_slot(c, slots, readers, seq, cursor, history, true)
                            : acquire_slot(c, slots, seq, cursor);
            if (!slot) {
                writer_failed = true;  // slots = readers + 2: must never happen
                break;
            }
            test::fill_frame(data + std::size_t{*slot} * p.frame_bytes, p.frame_bytes, seq);
            if (p.reuse_newest && history.slot_of(seq - 1) == *slot) ++reused;
            commit_slot(c, *slot, seq, format, 0, 0);
            history.committed(*slot, seq);
            published = seq++;
        }
        set_writer_state(c, layout::WriterState::end_of_stream);
    });
    for (auto& t : threads) t.join();

    EXPECT_FALSE(writer_failed);
    EXPECT_EQ(torn.load(), 0u);
    EXPECT_EQ(corrupt.load(), 0u);
    EXPECT_GT(published, 0u);
    // A next reader drains to the end: every frame was received or counted.
    for (std::uint32_t r = p.latest_readers; r < readers; ++r) {
        // After end of stream a next reader may still have frames to drain;
        // wait_for_newer returns state_changed first only when none is newer.
        EXPECT_EQ(received[r] + skipped[r], published) << "next reader " << r;
    }
    for (std::uint32_t r = 0; r < readers; ++r) EXPECT_GT(received[r], 0u) << "reader " << r;
    if (p.reuse_newest) {
        EXPECT_GT(reused, 0u) << "the newest slot was never reused: untested";
    }
}

INSTANTIATE_TEST_SUITE_P(
    SizesByReaders, ProtocolThreads,
    ::testing::Values(Params{64, 1, 1}, Params{4096, 4, 1}, Params{65536, 4, 2}, Params{256, 8, 2},
                      Params{64, 1, 1, true}, Params{4096, 1, 2, true}, Params{256, 0, 3, true}),
    [](const auto& info) {
        const Params& p = info.param;
        return std::to_string(p.frame_bytes) + "B_" + std::to_string(p.latest_readers) + "latest_" +
               std::to_string(p.next_readers) + "next" + (p.reuse_newest ? "_reuse_newest" : "");
    });

}  // namespace
}  // namespace framebus::detail
