// DESIGN.md guarantees 2 (the writer never waits for readers) and 3 (crashes
// are survivable), with real processes stopped and killed at chosen moments.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "framebus/inspect.hpp"
#include "framebus/name.hpp"
#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "test_support.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;

const FrameFormat kFormat = FrameFormat::packed(320, 240, PixelFormat::bgr24);

Writer make_writer(const std::string& name, std::uint32_t max_readers, std::uint32_t slots = 0) {
    WriterOptions options;
    options.name = name;
    options.max_readers = max_readers;
    options.slots = slots;
    options.initial_format = kFormat;
    auto writer = Writer::create(options);
    EXPECT_TRUE(writer) << writer.error().message;
    return std::move(*writer);
}

std::uint32_t publish(Writer& writer) {
    auto slot = writer.acquire(kFormat);
    EXPECT_TRUE(slot) << slot.error().message;
    if (!slot) return ~0u;
    test::fill_frame(slot->data(), kFormat.bytes(), slot->sequence());
    const std::uint32_t index = slot->slot_index();
    slot->commit();
    return index;
}

// A reader process that leases frame `sequence`, reports its slot, and then
// holds the lease until killed.
test::Child holding_reader(const std::string& name, std::uint64_t sequence, test::Pipe& held) {
    return test::Child([&name, sequence, &held] {
        auto reader = Reader::open(name, ReaderOptions{10s});
        if (!reader) return 10;
        while (reader->latest_sequence() < sequence)
            if (reader->wait(10s) != WaitStatus::frame) return 11;
        auto lease = reader->latest();
        if (!lease || lease->sequence() != sequence) return 12;
        held.send(lease->slot_index());
        for (;;) ::pause();
    });
}

// A reader process that leases frames first, first + 1, ... until it holds
// as many as the segment lets one reader hold, reports each slot, and then
// holds them all until killed.
test::Child reader_holding_its_maximum(const std::string& name, std::uint64_t first,
                                       test::Pipe& held) {
    return test::Child([&name, first, &held] {
        auto reader = Reader::open(name, ReaderOptions{10s});
        if (!reader) return 10;
        std::vector<Lease> leases;
        for (std::uint64_t seq = first; leases.size() < reader->max_leases(); ++seq) {
            while (reader->latest_sequence() < seq)
                if (reader->wait(10s) != WaitStatus::frame) return 11;
            auto lease = reader->latest();
            if (!lease || lease->sequence() != seq) return 12;
            held.send(lease->slot_index());
            leases.push_back(std::move(*lease));
        }
        if (reader->latest().error().code != Errc::lease_held) return 13;  // at its maximum
        for (;;) ::pause();
    });
}

TEST(Crash, StoppedReadersHoldingTheirMaximumOfLeasesNeverSlowTheWriter) {
    const std::string name = test::unique_name("sigstop");
    constexpr int kReaders = 3;
    constexpr int kLeases = 2;  // the default leases per reader
    std::vector<std::unique_ptr<test::Pipe>> held;
    std::vector<test::Child> readers;
    for (int r = 0; r < kReaders; ++r) {
        held.push_back(std::make_unique<test::Pipe>());
        readers.push_back(reader_holding_its_maximum(name, r * kLeases + 1, *held.back()));
    }
    Writer writer = make_writer(name, kReaders);  // slots = readers * leases + 2
    ASSERT_EQ(writer.slot_count(), kReaders * kLeases + 2u);
    std::set<std::uint32_t> held_slots;
    for (int r = 0; r < kReaders; ++r) {
        for (int l = 0; l < kLeases; ++l) {
            publish(writer);  // frame r * kLeases + l + 1; reader r leases it
            auto slot = held[r]->receive(10s);
            ASSERT_TRUE(slot) << "reader " << r << " exit "
                              << readers[r].wait_exit_code(1s).value_or(-99);
            held_slots.insert(static_cast<std::uint32_t>(*slot));
        }
        readers[r].kill(SIGSTOP);
    }
    ASSERT_EQ(held_slots.size(), static_cast<std::size_t>(kReaders * kLeases));
    for (int i = 0; i < 20000; ++i) {
        auto slot = writer.acquire(kFormat);
        ASSERT_TRUE(slot) << "frame " << i << ": " << slot.error().message;
        EXPECT_EQ(held_slots.count(slot->slot_index()), 0u);
        slot->commit();
    }
    EXPECT_EQ(writer.stats().published, 20000u + kReaders * kLeases);
    EXPECT_EQ(writer.stats().dropped, 0u);
    for (auto& r : readers) r.kill(SIGCONT);
}

TEST(Crash, AnIdleWritersUpkeepReclaimsADeadReaderAndKeepsTheHeartbeat) {
    // The program publishes one frame and then nothing (a paused camera),
    // calling nothing on its Writer: the upkeep thread alone must take the
    // dead reader's lease back and keep the heartbeat going.
    const std::string name = test::unique_name("upkeep");
    test::Pipe held;
    test::Child reader = holding_reader(name, 1, held);
    WriterOptions options;
    options.name = name;
    options.max_readers = 1;
    options.initial_format = kFormat;
    options.upkeep_interval = 50ms;
    auto writer = Writer::create(options);
    ASSERT_TRUE(writer) << writer.error().message;
    publish(*writer);
    ASSERT_TRUE(held.receive(10s));
    const std::int64_t heartbeat_before = inspect(name)->heartbeat_ns;
    reader.kill(SIGKILL);
    ASSERT_EQ(reader.wait_exit_code(5s), -SIGKILL);

    // Nothing announces an upkeep: look until it happened, with a deadline.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    bool reclaimed = false;
    while (!reclaimed && std::chrono::steady_clock::now() < deadline) {
        auto view = inspect(name);
        ASSERT_TRUE(view) << view.error().message;
        reclaimed = view->readers.empty() && view->slots[view->latest_slot].holders == 0;
        if (!reclaimed) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(reclaimed) << "the dead reader's lease is still held";
    EXPECT_EQ(writer->stats().reclaimed, 1u);
    EXPECT_GT(inspect(name)->heartbeat_ns, heartbeat_before) << "no heartbeat while idle";
    EXPECT_EQ(writer->stats().published, 1u);
}

TEST(Crash, AKilledReadersLeaseIsReclaimedByTheWriter) {
    const std::string name = test::unique_name("readerkill");
    test::Pipe held;
    test::Child reader = holding_reader(name, 1, held);
    // Two slots for one reader: the leaked lease would starve the writer.
    Writer writer = make_writer(name, /*max_readers=*/1, /*slots=*/2);
    publish(writer);
    auto slot = held.receive(10s);
    ASSERT_TRUE(slot);
    reader.kill(SIGKILL);
    ASSERT_EQ(reader.wait_exit_code(5s), -SIGKILL);

    auto view = inspect(name);
    ASSERT_TRUE(view);
    ASSERT_EQ(view->readers.size(), 1u);
    EXPECT_FALSE(view->readers[0].alive);
    EXPECT_EQ(view->readers[0].held_slot, static_cast<int>(*slot));

    // The writer needs that slot now: it takes it back instead of dropping.
    for (int i = 0; i < 100; ++i) publish(writer);
    EXPECT_EQ(writer.stats().dropped, 0u);
    EXPECT_EQ(writer.stats().reclaimed, 1u);
    view = inspect(name);
    for (const SlotView& s : view->slots) EXPECT_EQ(s.holders, 0u);
    EXPECT_TRUE(view->readers.empty());
}

TEST(Crash, AKilledReadersLeaseIsReclaimedByTheNextReaderAndByClean) {
    for (const bool by_clean : {false, true}) {
        const std::string name = test::unique_name(by_clean ? "killclean" : "killattach");
        test::Pipe held;
        test::Child reader = holding_reader(name, 1, held);
        Writer writer = make_writer(name, /*max_readers=*/1);
        publish(writer);
        ASSERT_TRUE(held.receive(10s));
        reader.kill(SIGKILL);
        reader.wait(5s);
        if (by_clean) {
            auto reclaimed = reclaim_dead_readers(name);  // what `framebus clean` runs
            ASSERT_TRUE(reclaimed);
            EXPECT_EQ(*reclaimed, 1u);
            EXPECT_EQ(*reclaim_dead_readers(name), 0u) << "idempotent";
        } else {
            auto next = Reader::open(name);  // takes the dead reader's entry
            ASSERT_TRUE(next) << next.error().message;
            EXPECT_EQ(next->reader_index(), 0u);
        }
        auto view = inspect(name);
        for (const SlotView& s : view->slots) EXPECT_EQ(s.holders, 0u) << "by_clean=" << by_clean;
    }
}

TEST(Crash, AWriterKilledMidFrameIsNeverReadAndIsReplacedByTheNextWriter) {
    const std::string name = test::unique_name("writerkill");
    test::Pipe mid_frame;
    test::Child first_writer([&]() -> int {
        Writer writer = make_writer(name, 2);
        for (int i = 0; i < 5; ++i) publish(writer);
        auto slot = writer.acquire(kFormat);  // frame 6: half-written, never committed
        if (!slot) return 30;
        std::memset(slot->data(), 0xee, kFormat.bytes() / 2);
        mid_frame.send(slot->sequence());
        for (;;) ::pause();
    });
    auto reader = Reader::open(name, ReaderOptions{10s});
    ASSERT_TRUE(reader) << reader.error().message;
    ASSERT_EQ(mid_frame.receive(10s), 6u);
    first_writer.kill(SIGKILL);
    ASSERT_EQ(first_writer.wait_exit_code(5s), -SIGKILL);

    auto lease = reader->latest();
    ASSERT_TRUE(lease);
    EXPECT_EQ(lease->sequence(), 5u);
    EXPECT_EQ(test::check_frame(lease->data(), kFormat.bytes(), 5), 0u);
    lease->release();
    EXPECT_EQ(reader->next().error().code, Errc::no_frame) << "frame 6 must never be read";

    const std::int64_t t0 = now_ns();
    EXPECT_EQ(reader->wait(5s), WaitStatus::writer_gone);
    EXPECT_LT(now_ns() - t0, 1'000'000'000) << "writer death must be noticed within a second";
    auto view = inspect(name);
    ASSERT_TRUE(view);
    EXPECT_FALSE(view->writer_alive);
    EXPECT_EQ(health_of(*view, now_ns()), SegmentHealth::stale);

    // A new writer takes the name over; the reader follows without reopening.
    test::Pipe published;
    test::Pipe done;
    test::Child second_writer([&] {
        Writer writer = make_writer(name, 2);
        publish(writer);
        published.send(1);
        done.receive(20s);
        return 0;
    });
    ASSERT_TRUE(published.receive(10s)) << second_writer.wait_exit_code(1s).value_or(-99);
    const WaitStatus status = reader->wait(2s);
    EXPECT_TRUE(status == WaitStatus::replaced || status == WaitStatus::writer_gone)
        << to_string(status);
    auto followed = reader->follow();
    ASSERT_TRUE(followed) << followed.error().message;
    EXPECT_TRUE(*followed);
    ASSERT_EQ(reader->wait(2s), WaitStatus::frame);
    auto resumed = reader->latest();
    ASSERT_TRUE(resumed);
    EXPECT_EQ(resumed->sequence(), 1u);
    EXPECT_EQ(test::check_frame(resumed->data(), kFormat.bytes(), 1), 0u);
    resumed->release();
    done.send(1);
    EXPECT_EQ(second_writer.wait_exit_code(10s), 0);
}

TEST(Crash, LivenessIsTheKernelsLockNotAPidOrAHeartbeat) {
    const std::string name = test::unique_name("liveness");
    test::Pipe ready;
    test::Child writer_process([&]() -> int {
        Writer writer = make_writer(name, 1);
        publish(writer);
        ready.send(1);
        for (;;) ::pause();
    });
    ASSERT_TRUE(ready.receive(10s));
    auto reader = Reader::open(name);
    ASSERT_TRUE(reader);

    // Stalled, not dead: a stopped writer keeps its lock.
    writer_process.kill(SIGSTOP);
    reader->latest()->release();
    EXPECT_EQ(reader->wait(300ms), WaitStatus::timed_out);
    auto view = inspect(name);
    ASSERT_TRUE(view);
    EXPECT_TRUE(view->writer_alive);
    EXPECT_EQ(health_of(*view, now_ns() + 10'000'000'000), SegmentHealth::stalled);

    // Dead, even though the header names a live pid (ours): a reused pid fools nothing.
    writer_process.kill(SIGKILL);
    writer_process.wait(5s);
    int fd = ::open(segment_path(name).c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const std::uint32_t live_pid = static_cast<std::uint32_t>(::getpid());
    ASSERT_EQ(::pwrite(fd, &live_pid, 4, offsetof(layout::SegmentHeader, writer_pid)), 4);
    ::close(fd);
    EXPECT_FALSE(inspect(name)->writer_alive);
    EXPECT_EQ(reader->wait(2s), WaitStatus::writer_gone);
    WriterOptions options;
    options.name = name;
    options.slot_capacity = 4096;
    EXPECT_TRUE(Writer::create(options)) << "a dead writer's name is taken over";
}

TEST(Crash, AFullShmFailsAtCreationAndLeavesNothing) {
    // A real small tmpfs on /dev/shm in a private mount namespace (needs root).
    test::Child child([] {
        if (::unshare(CLONE_NEWNS) != 0) return 77;
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
        if (::mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=1m") != 0) return 77;
        WriterOptions options;
        options.name = "fbt-full";
        options.initial_format = FrameFormat::packed(1920, 1080, PixelFormat::bgr24);
        auto writer = Writer::create(options);
        if (writer) return 1;
        if (writer.error().code != Errc::no_space) return 2;
        DIR* dir = ::opendir("/dev/shm");
        int entries = 0;
        while (const dirent* e = ::readdir(dir))
            if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++entries;
        ::closedir(dir);
        return entries == 0 ? 0 : 3;
    });
    const auto code = child.wait_exit_code(20s);
    if (code == 77) GTEST_SKIP() << "cannot mount a private tmpfs here (needs root)";
    EXPECT_EQ(code, 0) << "1: created anyway, 2: wrong error, 3: left files behind";
}

}  // namespace
}  // namespace framebus
