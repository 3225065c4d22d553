// The protocol's state changes, one process, states built by hand where a
// race would otherwise be needed. Multi-process behaviour: tests/process/.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "framebus/detail/protocol.hpp"
#include "framebus/inspect.hpp"
#include "framebus/name.hpp"
#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "test_support.hpp"

#include "allocation_counter.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;

const FrameFormat kFormat = FrameFormat::packed(64, 48, PixelFormat::bgr24);

struct Bus {
    explicit Bus(const char* tag, std::uint32_t max_readers = 2, std::uint32_t slots = 0,
                 bool reuse_newest = false) {
        name = test::unique_name(tag);
        WriterOptions options;
        options.name = name;
        options.max_readers = max_readers;
        options.slots = slots;
        options.reuse_newest = reuse_newest;
        options.initial_format = kFormat;
        auto w = Writer::create(options);
        EXPECT_TRUE(w) << w.error().message;
        writer = std::make_unique<Writer>(std::move(*w));
    }
    Reader open_reader() const {
        auto r = Reader::open(name);
        EXPECT_TRUE(r) << r.error().message;
        return std::move(*r);
    }
    // Publishes a frame filled from its sequence number; returns the slot used.
    std::uint32_t publish(const FrameFormat& format = kFormat) {
        auto slot = writer->acquire(format);
        EXPECT_TRUE(slot) << slot.error().message;
        test::fill_frame(slot->data(), format.bytes(), slot->sequence());
        const std::uint32_t index = slot->slot_index();
        slot->commit();
        return index;
    }
    std::string name;
    std::unique_ptr<Writer> writer;
};

TEST(Protocol, PublishedFrameIsLeasedWithItsDescription) {
    Bus bus("describe");
    Reader reader = bus.open_reader();
    EXPECT_EQ(reader.latest().error().code, Errc::no_frame);
    const std::int64_t before = now_ns();
    auto slot = bus.writer->acquire(kFormat);
    ASSERT_TRUE(slot);
    test::fill_frame(slot->data(), kFormat.bytes(), slot->sequence());
    slot->commit(before - 1000);
    auto lease = reader.latest();
    ASSERT_TRUE(lease) << lease.error().message;
    EXPECT_EQ(lease->sequence(), 1u);
    EXPECT_EQ(lease->format(), kFormat);
    EXPECT_EQ(lease->info().capture_ns, before - 1000);
    EXPECT_GE(lease->info().publish_ns, before);
    EXPECT_EQ(test::check_frame(lease->data(), kFormat.bytes(), 1), 0u);
}

// Capture on demand (PROTOCOL.md "Attaching wakes the writer"): a writer
// asleep in wait_for_reader is woken by a reader claiming its entry, not by
// its timeout; and tools see the idle flag.
TEST(Protocol, AReaderAttachingWakesAWriterWaitingForOne) {
    Bus bus("attach-wake");
    EXPECT_FALSE(bus.writer->wait_for_reader(1ms));  // nobody: times out
    bus.writer->set_idle(true);
    auto view = inspect(bus.name);
    ASSERT_TRUE(view) << view.error().message;
    EXPECT_TRUE(view->writer_idle);
    EXPECT_EQ(health_of(*view, now_ns()), SegmentHealth::idle);

    std::atomic<bool> waiting{false};
    std::thread attacher([&] {
        while (!waiting.load()) std::this_thread::yield();
        // Most runs attach while the writer sleeps in the futex; either way
        // it must return long before its 30 s timeout.
        std::this_thread::sleep_for(20ms);
        Reader reader = bus.open_reader();
        std::this_thread::sleep_for(200ms);  // stays attached while the writer looks
    });
    const auto start = std::chrono::steady_clock::now();
    waiting = true;
    EXPECT_TRUE(bus.writer->wait_for_reader(30s));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    attacher.join();
    bus.writer->set_idle(false);
    view = inspect(bus.name);
    ASSERT_TRUE(view);
    EXPECT_EQ(health_of(*view, now_ns()), SegmentHealth::live);
}

TEST(Protocol, WriterNeverTakesAHeldSlotNorTheLatest) {
    Bus bus("held");
    Reader reader = bus.open_reader();
    bus.publish();
    auto lease = reader.latest();
    ASSERT_TRUE(lease);
    const std::uint32_t held = lease->slot_index();
    std::uint32_t latest = held;
    for (int i = 0; i < 200; ++i) {
        auto slot = bus.writer->acquire(kFormat);
        ASSERT_TRUE(slot) << slot.error().message;
        EXPECT_NE(slot->slot_index(), held);
        EXPECT_NE(slot->slot_index(), latest);
        test::fill_frame(slot->data(), kFormat.bytes(), slot->sequence());
        latest = slot->slot_index();
        slot->commit();
    }
    EXPECT_EQ(test::check_frame(lease->data(), kFormat.bytes(), 1), 0u);
    EXPECT_EQ(bus.writer->stats().dropped, 0u);
}

TEST(Protocol, ASlotLeftMidWriteIsNeverLeased) {
    Bus bus("midwrite");
    Reader reader = bus.open_reader();
    bus.publish();
    {
        auto slot = bus.writer->acquire(kFormat);  // frame 2, half-written, not committed
        ASSERT_TRUE(slot);
        std::memset(slot->data(), 0xee, kFormat.bytes() / 2);
        auto lease = reader.latest();
        ASSERT_TRUE(lease);
        EXPECT_EQ(lease->sequence(), 1u);
        lease->release();
        EXPECT_EQ(reader.next().error().code, Errc::no_frame);
        EXPECT_EQ(reader.wait(10ms), WaitStatus::timed_out);
    }  // abandoned here
    EXPECT_EQ(reader.next().error().code, Errc::no_frame);
    auto view = inspect(bus.name);
    ASSERT_TRUE(view);
    EXPECT_EQ(view->latest_sequence, 1u);
    for (const SlotView& s : view->slots) EXPECT_FALSE(s.writing);
    // The next frame reuses the abandoned sequence number: nothing was published.
    bus.publish();
    EXPECT_EQ(reader.latest()->sequence(), 2u);
}

// The handshake, with states set by hand on a control region in memory.
struct HandBuiltControl {
    HandBuiltControl() : storage(layout::control_size(kSlots, 2) + layout::kCacheLine) {
        auto base = reinterpret_cast<std::uintptr_t>(storage.data());
        auto* aligned = reinterpret_cast<std::byte*>((base + layout::kCacheLine - 1) /
                                                     layout::kCacheLine * layout::kCacheLine);
        control = detail::control_view(aligned, kSlots);
    }
    static constexpr std::uint32_t kSlots = 4;
    std::vector<std::byte> storage;  // zeroed: empty slots, no frame
    detail::ControlView control;
};

TEST(Protocol, AReaderThatGotInFirstMakesTheWriterTakeAnotherSlot) {
    HandBuiltControl hb;
    // Reader bit 1 announced on slot 0 (its (R1) done, (R2) not yet).
    hb.control.slots[0].holders.store(0b10);
    std::uint32_t cursor = 0;
    auto slot = detail::acquire_slot(hb.control, hb.kSlots, 1, cursor);
    ASSERT_TRUE(slot);
    EXPECT_EQ(*slot, 1u);
    EXPECT_EQ(hb.control.slots[0].state.load(), 0u);  // untouched
    EXPECT_EQ(hb.control.slots[1].state.load(), layout::writing_state(1));
}

// The writer's slot choice: frames 1..4 committed in slots 0..3, frame 4
// (slot 3) the latest; reader entry 0 attached with `last` leased.
struct ChoiceFixture : HandBuiltControl {
    explicit ChoiceFixture(std::uint64_t last, bool reader_attached = true) : history(kSlots) {
        for (std::uint32_t i = 0; i < kSlots; ++i) commit(i, i + 1);
        control.readers[0].pid.store(reader_attached ? 1234 : 0);
        control.readers[0].last_sequence.store(last);
    }
    void commit(std::uint32_t i, std::uint64_t seq) {
        control.slots[i].state.store(layout::committed_state(seq));
        control.header->latest.store(layout::pack_latest(seq, i));
        history.committed(i, seq);
    }
    std::optional<std::uint32_t> choose(std::uint64_t seq, bool reuse_newest = false) {
        return detail::acquire_hot_slot(control, kSlots, 2, seq, cursor, history, reuse_newest);
    }
    std::uint64_t latest() const { return control.header->latest.load(); }
    detail::SlotHistory history;
    std::uint32_t cursor = 0;
};

TEST(Protocol, WriterReusesTheNewestSlotEveryReaderIsPast) {
    ChoiceFixture caught_up(/*last=*/4);
    EXPECT_EQ(caught_up.choose(5), 2u) << "frame 3: the newest one that is not the latest";
    ChoiceFixture nobody(/*last=*/0, /*reader_attached=*/false);
    EXPECT_EQ(nobody.choose(5), 0u)
        << "no reader: the ring keeps its history, oldest first (tools and late readers see it)";
    ChoiceFixture behind(/*last=*/2);
    EXPECT_EQ(behind.choose(5), 1u) << "frame 2 was leased; frame 3 is still to come";
    ChoiceFixture held(/*last=*/4);
    held.control.slots[2].holders.store(0b1);
    EXPECT_EQ(held.choose(5), 1u) << "a held slot is never taken";
    EXPECT_EQ(held.control.slots[2].state.load(), layout::committed_state(3));
}

TEST(Protocol, WithReuseNewestTheWriterOverwritesTheNewestFrameOnlyOnceEveryReaderHasIt) {
    ChoiceFixture caught_up(/*last=*/4);
    EXPECT_EQ(caught_up.choose(5, /*reuse_newest=*/true), 3u) << "frame 4's slot, the newest";
    EXPECT_EQ(caught_up.control.slots[3].state.load(), layout::writing_state(5));
    EXPECT_EQ(caught_up.latest(), layout::pack_latest(4, layout::kRewritingSlot))
        << "latest keeps the sequence and names no slot while frame 5 is written";
    detail::HoldError error = detail::HoldError::none;
    EXPECT_FALSE(detail::hold_latest(caught_up.control, caught_up.kSlots, 0b10, nullptr, error));
    EXPECT_EQ(error, detail::HoldError::no_frame) << "latest() finds nothing, and no corruption";
    caught_up.commit(3, 5);
    EXPECT_TRUE(detail::hold_latest(caught_up.control, caught_up.kSlots, 0b10, nullptr, error));

    ChoiceFixture nobody(/*last=*/0, /*reader_attached=*/false);
    EXPECT_EQ(nobody.choose(5, true), 3u) << "no reader: nobody loses the newest frame";

    ChoiceFixture behind(/*last=*/3);
    EXPECT_EQ(behind.choose(5, true), 2u) << "frame 4 is still to come: frame 3's slot";
    EXPECT_EQ(behind.latest(), layout::pack_latest(4, 3)) << "the newest frame stays readable";

    ChoiceFixture held(/*last=*/4);
    held.control.slots[3].holders.store(0b1);
    EXPECT_EQ(held.choose(5, true), 2u) << "the reader still holds frame 4";
    EXPECT_EQ(held.latest(), layout::pack_latest(4, 3));

    ChoiceFixture second_reader(/*last=*/4);
    second_reader.control.readers[1].pid.store(5678);
    second_reader.control.readers[1].last_sequence.store(3);
    EXPECT_EQ(second_reader.choose(5, true), 2u) << "one reader of two has not had frame 4";
}

// The same through Writer and Reader: a reader that takes every frame and
// lets it go has the writer write one slot, loses nothing, and meanwhile
// latest() says "no frame" rather than "corrupt".
TEST(Protocol, AReuseNewestWriterWritesOneSlotWhileItsReaderKeepsUp) {
    Bus bus("reusenewest", /*max_readers=*/2, /*slots=*/0, /*reuse_newest=*/true);
    Reader reader = bus.open_reader();
    std::vector<std::uint32_t> used;
    for (std::uint64_t want = 1; want <= 10; ++want) {
        used.push_back(bus.publish());
        auto lease = reader.next();
        ASSERT_TRUE(lease) << "frame " << want;
        EXPECT_EQ(lease->sequence(), want);
        EXPECT_EQ(test::check_frame(lease->data(), kFormat.bytes(), want), 0u);
    }
    for (std::size_t k = 1; k < used.size(); ++k) EXPECT_EQ(used[k], used[0]) << "frame " << k + 1;
    EXPECT_EQ(bus.writer->stats().newest_reused, 9u);
    EXPECT_EQ(reader.skipped(), 0u);

    auto slot = bus.writer->acquire(kFormat);
    ASSERT_TRUE(slot);
    EXPECT_EQ(slot->slot_index(), used[0]);
    auto during = reader.latest();
    ASSERT_FALSE(during);
    EXPECT_EQ(during.error().code, Errc::no_frame) << during.error().message;
    const auto view = inspect(bus.name);
    ASSERT_TRUE(view) << view.error().message;
    EXPECT_TRUE(view->latest_rewriting);
    EXPECT_EQ(view->latest_sequence, 10u);
    // A reader that attaches now wants frame 10, which is gone: wait() does
    // not offer it again and again (no hot loop) but sleeps until the commit.
    Reader late = bus.open_reader();
    auto nothing = late.latest();
    ASSERT_FALSE(nothing);
    EXPECT_EQ(nothing.error().code, Errc::no_frame);
    EXPECT_EQ(late.wait(20ms), WaitStatus::timed_out);
    test::fill_frame(slot->data(), kFormat.bytes(), slot->sequence());
    slot->commit();
    EXPECT_EQ(late.wait(1s), WaitStatus::frame);
    auto late_frame = late.next();
    ASSERT_TRUE(late_frame) << late_frame.error().message;
    EXPECT_EQ(late_frame->sequence(), 11u);
    EXPECT_EQ(late.skipped(), 1u) << "frame 10, written over before it could lease it";
    late_frame->release();
    auto after = reader.latest();
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_EQ(after->sequence(), 11u);

    // A lease still out keeps its frame: the writer goes to another slot,
    // and the newest frame stays readable while the next one is written.
    auto other = bus.writer->acquire(kFormat);
    ASSERT_TRUE(other);
    EXPECT_NE(other->slot_index(), after->slot_index());
    auto still = reader.latest();
    ASSERT_TRUE(still) << still.error().message;
    EXPECT_EQ(still->sequence(), 11u);
}

TEST(Protocol, ASlotOutsideTheRingInLatestIsStillCorruption) {
    ChoiceFixture forged(/*last=*/4);
    forged.control.header->latest.store(layout::pack_latest(4, forged.kSlots));
    detail::HoldError error = detail::HoldError::none;
    EXPECT_FALSE(detail::hold_latest(forged.control, forged.kSlots, 0b10, nullptr, error));
    EXPECT_EQ(error, detail::HoldError::corrupt);
    forged.control.header->latest.store(layout::pack_latest(4, layout::kRewritingSlot - 1));
    EXPECT_FALSE(detail::hold_latest(forged.control, forged.kSlots, 0b10, nullptr, error));
    EXPECT_EQ(error, detail::HoldError::corrupt);
}

TEST(Protocol, WriterTakesTheOldestFrameWhenAReaderIsBehindOnAll) {
    ChoiceFixture fresh(/*last=*/0);  // attached before frame 1, nothing leased yet
    EXPECT_EQ(fresh.choose(5), 0u) << "frame 1, the oldest";
    ChoiceFixture with_empty(/*last=*/0);
    with_empty.control.slots[1].state.store(0);  // frame 2 abandoned: slot 1 empty
    with_empty.history.emptied(1);
    EXPECT_EQ(with_empty.choose(5), 1u) << "an empty slot costs nobody a frame";
    // Frames 5..7 as a next() reader stuck at 0 sees them: each overwrite takes
    // the oldest frame, so the reader loses the oldest, as it always did.
    ChoiceFixture stuck(/*last=*/0);
    for (std::uint64_t seq = 5; seq <= 7; ++seq) {
        const auto slot = stuck.choose(seq);
        ASSERT_TRUE(slot);
        EXPECT_EQ(*slot, (seq - 5) % 3) << "frame " << seq;
        stuck.commit(*slot, seq);
    }
}

long thread_voluntary_switches() {
    rusage usage{};
    ::getrusage(RUSAGE_THREAD, &usage);
    return usage.ru_nvcsw;
}

TEST(Protocol, AdaptiveWaitTakesAFrameWhileSpinningWithoutSleeping) {
    Bus bus("spin");
    ReaderOptions options;
    options.spin = std::chrono::seconds(5);
    auto reader = Reader::open(bus.name, options);
    ASSERT_TRUE(reader) << reader.error().message;
    // The spin never outlasts the timeout.
    const std::int64_t start = now_ns();
    EXPECT_EQ(reader->wait(20ms), WaitStatus::timed_out);
    EXPECT_LT(now_ns() - start, 2'000'000'000);
    // A frame published while the reader spins: taken with no sleep (a
    // futex sleep is a voluntary context switch of this thread).
    std::atomic<bool> waiting{false};
    std::thread publisher([&] {
        while (!waiting.load()) std::this_thread::yield();
        std::this_thread::sleep_for(5ms);  // lands inside the 5 s spin
        bus.publish();
    });
    const long switches = thread_voluntary_switches();
    waiting.store(true);
    EXPECT_EQ(reader->wait(10s), WaitStatus::frame);
    EXPECT_EQ(thread_voluntary_switches() - switches, 0) << "the reader slept";
    publisher.join();
    EXPECT_EQ(reader->next()->sequence(), 1u);
}

TEST(Protocol, AReaderBackOffFromASlotBeingWritten) {
    HandBuiltControl hb;
    hb.control.slots[2].state.store(layout::writing_state(5));
    EXPECT_FALSE(detail::try_hold(hb.control, 2, 5, 0b1));
    EXPECT_EQ(hb.control.slots[2].holders.load(), 0u);  // the bit is cleared again
    hb.control.slots[2].state.store(layout::committed_state(5));
    EXPECT_TRUE(detail::try_hold(hb.control, 2, 5, 0b1));
    EXPECT_EQ(hb.control.slots[2].holders.load(), 0b1u);
    EXPECT_FALSE(detail::try_hold(hb.control, 2, 4, 0b10)) << "a stale sequence is not held";
}

TEST(Protocol, FewerSlotsThanReadersPlusTwoDropsInsteadOfWaiting) {
    Bus bus("drop", /*max_readers=*/1, /*slots=*/2);
    Reader reader = bus.open_reader();
    bus.publish();
    auto lease = reader.latest();  // holds the only non-latest slot after the next publish
    ASSERT_TRUE(lease);
    bus.publish();
    auto slot = bus.writer->acquire(kFormat);
    ASSERT_FALSE(slot);
    EXPECT_EQ(slot.error().code, Errc::no_free_slot);
    EXPECT_EQ(bus.writer->stats().dropped, 1u);
    EXPECT_EQ(inspect(bus.name)->frames_dropped, 1u);
    lease->release();
    EXPECT_TRUE(bus.writer->acquire(kFormat));
}

TEST(Protocol, AReaderHoldsAtMostItsLeasesPerReader) {
    Bus bus("leasecap");  // 2 leases per reader, the default
    Reader reader = bus.open_reader();
    EXPECT_EQ(reader.max_leases(), 2u);
    bus.publish();
    auto first = reader.latest();
    ASSERT_TRUE(first);
    bus.publish();
    auto second = reader.latest();
    ASSERT_TRUE(second);
    EXPECT_NE(first->slot_index(), second->slot_index());
    EXPECT_EQ(reader.leases_held(), 2u);
    EXPECT_EQ(reader.latest().error().code, Errc::lease_held);
    EXPECT_EQ(reader.next().error().code, Errc::lease_held);
    first->release();
    EXPECT_EQ(reader.leases_held(), 1u);
    EXPECT_TRUE(reader.latest());
}

TEST(Protocol, TwoLeasesOfOneFrameKeepTheSlotUntilTheLastGoes) {
    Bus bus("sameslot", /*max_readers=*/1, /*slots=*/3);
    Reader reader = bus.open_reader();
    bus.publish();
    auto first = reader.latest();
    auto second = reader.latest();  // the same frame, the same slot
    ASSERT_TRUE(first && second);
    ASSERT_EQ(first->slot_index(), second->slot_index());
    const std::uint32_t held_slot = second->slot_index();
    first->release();  // the reader's bit must stay: `second` still holds the slot
    for (int i = 0; i < 20; ++i)
        EXPECT_NE(bus.publish(), held_slot) << "the writer took a slot still leased";
    EXPECT_EQ(test::check_frame(second->data(), kFormat.bytes(), 1), 0u);
    second->release();
    bool reused = false;
    for (int i = 0; i < 3 && !reused; ++i) reused = bus.publish() == held_slot;
    EXPECT_TRUE(reused) << "the slot came back when its last lease went";
}

TEST(Protocol, NextModeReturnsFramesInOrderAndCountsWhatWasOverwritten) {
    Bus bus("next", /*max_readers=*/1, /*slots=*/4);
    Reader reader = bus.open_reader();
    for (int i = 0; i < 3; ++i) bus.publish();
    for (std::uint64_t want = 1; want <= 3; ++want) {
        auto lease = reader.next();
        ASSERT_TRUE(lease);
        EXPECT_EQ(lease->sequence(), want);
        EXPECT_EQ(test::check_frame(lease->data(), kFormat.bytes(), want), 0u);
    }
    EXPECT_EQ(reader.next().error().code, Errc::no_frame);
    for (int i = 0; i < 10; ++i) bus.publish();  // 4..13; the ring keeps the last 4
    std::uint64_t got = 0;
    while (auto lease = reader.next()) {
        EXPECT_GT(lease->sequence(), got);
        got = lease->sequence();
    }
    EXPECT_EQ(got, 13u);
    EXPECT_EQ(reader.frames(), 3u + 4u);
    EXPECT_EQ(reader.skipped(), 6u);  // 4..9
    EXPECT_EQ(reader.frames() + reader.skipped(), 13u);
}

TEST(Protocol, LatestModeCountsSkippedFramesFromSequenceGaps) {
    Bus bus("latestgap");
    Reader reader = bus.open_reader();
    bus.publish();
    reader.latest()->release();
    for (int i = 0; i < 5; ++i) bus.publish();
    EXPECT_EQ(reader.latest()->sequence(), 6u);
    EXPECT_EQ(reader.skipped(), 4u);
    EXPECT_EQ(reader.frames(), 2u);
}

TEST(Protocol, AReaderArrivingMidStreamStartsAtTheNewestFrame) {
    Bus bus("midstream");
    for (int i = 0; i < 5; ++i) bus.publish();
    Reader reader = bus.open_reader();
    EXPECT_EQ(reader.wait(0ns), WaitStatus::frame);
    auto lease = reader.next();
    ASSERT_TRUE(lease);
    EXPECT_EQ(lease->sequence(), 5u);
    EXPECT_EQ(reader.skipped(), 0u);
}

// A reader that has leased nothing yet stands just before the newest frame
// at its open, not at 0: the writer keeps reusing hot slots (frame 3's, not
// frame 1's), and the new reader still gets every frame from the newest on.
TEST(Protocol, ANewReaderKeepsTheHotSlotChoiceAndLosesNothing) {
    Bus bus("newreader", /*max_readers=*/1);  // 1 * 2 + 2 = 4 slots
    std::vector<std::uint32_t> slot_of{0};    // slot_of[seq]
    for (int i = 0; i < 4; ++i) slot_of.push_back(bus.publish());
    Reader reader = bus.open_reader();
    const auto entries = inspect(bus.name);
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->readers.size(), 1u);
    EXPECT_EQ(entries->readers[0].last_sequence, 3u) << "the frame next() starts after";
    EXPECT_EQ(bus.publish(), slot_of[3]) << "frame 5 reuses frame 3's slot, the hot one";
    for (int i = 0; i < 2; ++i) bus.publish();  // 6, 7: the ring now holds 4..7
    for (std::uint64_t want = 4; want <= 7; ++want) {
        auto lease = reader.next();
        ASSERT_TRUE(lease) << "frame " << want;
        EXPECT_EQ(lease->sequence(), want);
        EXPECT_EQ(test::check_frame(lease->data(), kFormat.bytes(), want), 0u);
    }
    EXPECT_EQ(reader.skipped(), 0u);
    EXPECT_EQ(reader.frames() + reader.skipped(), 4u) << "published from its first frame on";
}

TEST(Protocol, WaitTimesOutThenWakesForAFrameAndDrainsBeforeEndOfStream) {
    Bus bus("wait");
    Reader reader = bus.open_reader();
    EXPECT_EQ(reader.wait(20ms), WaitStatus::timed_out);
    std::thread publisher([&] {
        // Publish only once the reader sleeps in the futex (its waiter count
        // says so), so this exercises the wake, not the fast path.
        while (inspect(bus.name)->waiters == 0) std::this_thread::yield();
        bus.publish();
    });
    EXPECT_EQ(reader.wait(5s), WaitStatus::frame);
    publisher.join();
    reader.next()->release();
    bus.publish();
    bus.writer->end_of_stream();
    EXPECT_EQ(reader.wait(1s), WaitStatus::frame) << "frames before the end come first";
    reader.next()->release();
    EXPECT_EQ(reader.wait(1s), WaitStatus::end_of_stream);
}

TEST(Protocol, AShapeChangeThatFitsNeedsNothingElse) {
    Bus bus("shapefits");
    Reader reader = bus.open_reader();
    const auto capacity = bus.writer->slot_capacity();
    for (const FrameFormat& f : {FrameFormat::packed(32, 24, PixelFormat::bgr24),
                                 FrameFormat::packed(64, 48, PixelFormat::gray8),
                                 FrameFormat::packed(48, 48, PixelFormat::bgra32)}) {
        bus.publish(f);
        auto lease = reader.latest();
        ASSERT_TRUE(lease);
        EXPECT_EQ(lease->format(), f);
        EXPECT_EQ(test::check_frame(lease->data(), f.bytes(), lease->sequence()), 0u);
    }
    EXPECT_EQ(bus.writer->slot_capacity(), capacity);
    EXPECT_EQ(bus.writer->stats().replaced, 0u);
    EXPECT_FALSE(*reader.follow());
}

TEST(Protocol, AShapeThatDoesNotFitReplacesTheSegmentAndReadersFollow) {
    Bus bus("shapegrows");
    Reader reader = bus.open_reader();
    bus.publish();
    reader.next()->release();
    bus.publish();  // frame 2, still in the old segment
    const FrameFormat big = FrameFormat::packed(640, 480, PixelFormat::bgr24);
    bus.publish(big);
    EXPECT_EQ(bus.writer->stats().replaced, 1u);
    EXPECT_GE(bus.writer->slot_capacity(), big.bytes());
    // The old segment's frames are drained first, then the replacement shows.
    EXPECT_EQ(reader.wait(1s), WaitStatus::frame);
    EXPECT_EQ(reader.next()->sequence(), 2u);
    EXPECT_EQ(reader.wait(1s), WaitStatus::replaced);
    auto followed = reader.follow();
    ASSERT_TRUE(followed) << followed.error().message;
    EXPECT_TRUE(*followed);
    EXPECT_EQ(reader.wait(1s), WaitStatus::frame);
    auto lease = reader.latest();
    ASSERT_TRUE(lease);
    EXPECT_EQ(lease->format(), big);
    EXPECT_EQ(test::check_frame(lease->data(), big.bytes(), lease->sequence()), 0u);
    // Exactly one segment under the name, and it is the new one.
    EXPECT_EQ(inspect(bus.name)->slot_capacity, bus.writer->slot_capacity());
}

TEST(Protocol, AReplacementThatIsGoneAgainIsWriterGoneNotAnEndlessReplaced) {
    Bus bus("replacedgone");
    Reader reader = bus.open_reader();
    bus.publish();
    reader.next()->release();
    bus.publish(FrameFormat::packed(640, 480, PixelFormat::bgr24));  // replaces the segment
    bus.writer->close();  // ... and the replacement is unlinked at once
    EXPECT_EQ(reader.wait(1s), WaitStatus::writer_gone);
    EXPECT_FALSE(*reader.follow());
    EXPECT_EQ(reader.wait(0ns), WaitStatus::writer_gone) << "stays an answer, not a spin";
}

TEST(Protocol, ASecondWriterOnALiveNameFailsNamingThePid) {
    Bus bus("twowriters");
    bus.publish();
    WriterOptions options;
    options.name = bus.name;
    options.slot_capacity = 4096;
    auto second = Writer::create(options);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, Errc::live_writer);
    EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos)
        << second.error().message;
    auto view = inspect(bus.name);  // the live segment is unharmed
    ASSERT_TRUE(view);
    EXPECT_EQ(view->latest_sequence, 1u);
}

TEST(Protocol, ReadersBeyondMaxReadersAreRefusedClearly) {
    Bus bus("toomany", /*max_readers=*/2);
    Reader a = bus.open_reader();
    Reader b = bus.open_reader();
    auto c = Reader::open(bus.name);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, Errc::too_many_readers);
    EXPECT_EQ(bus.writer->readers_attached(), 2u);
    { Reader moved = std::move(a); }  // closing one frees its entry
    EXPECT_TRUE(Reader::open(bus.name));
}

TEST(Protocol, CloseUnlinksTheSegmentUnlessKept) {
    Bus bus("close");
    EXPECT_TRUE(test::segment_exists(bus.name));
    bus.writer->close();
    EXPECT_FALSE(test::segment_exists(bus.name));

    const std::string kept = test::unique_name("keep");
    WriterOptions options;
    options.name = kept;
    options.slot_capacity = 4096;
    options.keep = true;
    Writer::create(options)->close();
    EXPECT_TRUE(test::segment_exists(kept));
    auto view = inspect(kept);
    ASSERT_TRUE(view);
    EXPECT_EQ(view->writer_state, layout::WriterState::end_of_stream);
    EXPECT_FALSE(view->writer_alive);
    test::remove_segment_file(kept);
}

TEST(Protocol, HotPathsDoNotAllocate) {
    Bus bus("noalloc");
    Reader latest_reader = bus.open_reader();
    Reader next_reader = bus.open_reader();
    bus.publish();  // warm up: both readers take frame 1
    latest_reader.latest()->release();
    next_reader.next()->release();
    const std::uint64_t before = test::allocations();
    for (int i = 0; i < 1000; ++i) {
        auto slot = bus.writer->acquire(kFormat);
        slot->commit();
        {
            auto lease = latest_reader.latest();
            ASSERT_TRUE(lease.ok());
        }
        {
            auto lease = next_reader.next();
            ASSERT_TRUE(lease.ok());
        }
        ASSERT_EQ(next_reader.wait(0ns), WaitStatus::timed_out);
    }
    EXPECT_EQ(test::allocations() - before, 0u);
}

}  // namespace
}  // namespace framebus
