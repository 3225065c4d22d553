// The hostile writer (issue 15's standing defence): a user who may write a
// segment (mode 0666, or its owner) can stop the stream, but must not crash,
// hang or spin any process attached to it. Real programs — a framebus-writer,
// framebus-reader in latest, next (--every) and --verify modes, and the CLI —
// run on one segment while this process, another one, writes random and
// boundary values into every field of the control region (header, each slot
// description, holder bits, the reader table, the futex word) round after
// round, waking the waiters each time. Afterwards, with the damage left in
// place:
//   - no program died of a signal;
//   - none spins: CPU time over a quiet second stays far below a core;
//   - none hangs: each ends within a second of SIGTERM;
//   - a writer started again on the name takes the stream over, and a
//     verifying reader reads frames from it.
// Bounded by FRAMEBUS_HOSTILE_SECONDS (default 10) and FRAMEBUS_HOSTILE_SEED
// (default random, printed so a failure can be replayed).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "framebus/layout.hpp"
#include "framebus/name.hpp"
#include "reliability_support.hpp"
#include "test_support.hpp"

namespace framebus::reliability {
namespace {

using namespace std::chrono_literals;
using layout::ReaderEntry;
using layout::SegmentHeader;
using layout::SlotHeader;

double hostile_seconds() {
    const char* v = std::getenv("FRAMEBUS_HOSTILE_SECONDS");
    return v != nullptr ? std::stod(v) : 10.0;
}

// The control region of a segment, mapped read-write by this (hostile) process.
class ControlRegion {
  public:
    explicit ControlRegion(const std::string& name) {
        const int fd = ::open(segment_path(name).c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) return;
        SegmentHeader header{};
        if (::pread(fd, &header, sizeof header, 0) == static_cast<ssize_t>(sizeof header)) {
            slot_count_ = header.slot_count;
            max_readers_ = header.max_readers;
            size_ = header.data_offset;
            void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (p != MAP_FAILED) base_ = static_cast<std::byte*>(p);
        }
        ::close(fd);
    }
    ~ControlRegion() {
        if (base_ != nullptr) ::munmap(base_, size_);
    }
    ControlRegion(const ControlRegion&) = delete;
    ControlRegion& operator=(const ControlRegion&) = delete;

    [[nodiscard]] bool mapped() const { return base_ != nullptr; }

    // One round: `writes` fields picked at random get random or boundary
    // values; then the futex word is bumped and every waiter woken, as a
    // writer would after a publish.
    void damage(std::mt19937_64& rng, int writes) {
        for (int w = 0; w < writes; ++w) {
            const std::size_t offset = pick_field(rng);
            const std::uint64_t value = pick_value(rng);
            const bool wide = offset % 8 == 0 && rng() % 2 == 0;
            if (wide)
                std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(base_ + offset))
                    .store(value, std::memory_order_relaxed);
            else
                std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(base_ + offset))
                    .store(static_cast<std::uint32_t>(value), std::memory_order_relaxed);
        }
        auto* word = &reinterpret_cast<SegmentHeader*>(base_)->publish_futex;
        word->fetch_add(1);
        ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr,
                  nullptr, 0);
    }

  private:
    // An aligned 4-byte field anywhere in the region, weighted towards the
    // words the protocol reads at run time.
    std::size_t pick_field(std::mt19937_64& rng) const {
        const std::size_t readers = layout::readers_offset(slot_count_);
        switch (rng() % 6) {
            case 0: {  // the publication line: latest, futex, waiters, writer_state
                constexpr std::size_t hot[] = {
                    offsetof(SegmentHeader, latest),        offsetof(SegmentHeader, latest) + 4,
                    offsetof(SegmentHeader, publish_futex), offsetof(SegmentHeader, waiters),
                    offsetof(SegmentHeader, writer_state),  offsetof(SegmentHeader, heartbeat_ns),
                    offsetof(SegmentHeader, frames_dropped)};
                return hot[rng() % std::size(hot)];
            }
            case 1:  // anywhere in the header, the write-once geometry included
                return (rng() % (sizeof(SegmentHeader) / 4)) * 4;
            case 2:
            case 3: {  // a slot's state, holders or description
                const std::size_t slot =
                    layout::slots_offset() + (rng() % slot_count_) * sizeof(SlotHeader);
                return slot + (rng() % (sizeof(SlotHeader) / 4)) * 4;
            }
            case 4: {  // a slot's holder bits: readers that may not exist
                const std::size_t slot =
                    layout::slots_offset() + (rng() % slot_count_) * sizeof(SlotHeader);
                return slot + offsetof(SlotHeader, holders) + (rng() % 2) * 4;
            }
            default:  // the reader table
                return readers +
                       (rng() % (std::size_t{max_readers_} * sizeof(ReaderEntry) / 4)) * 4;
        }
    }

    static std::uint64_t pick_value(std::mt19937_64& rng) {
        constexpr std::uint64_t boundary[] = {0,
                                              1,
                                              2,
                                              3,
                                              255,
                                              256,
                                              0x7fffffff,
                                              0x80000000,
                                              0xffffffff,
                                              0x100000000,
                                              0x7fffffffffffffff,
                                              0x8000000000000000,
                                              0xffffffffffffffff,
                                              0xfffffffffffffffe};
        if (rng() % 2 == 0) return boundary[rng() % std::size(boundary)];
        return rng() >> (rng() % 64);
    }

    std::byte* base_ = nullptr;
    std::size_t size_ = 0;
    std::uint32_t slot_count_ = 0;
    std::uint32_t max_readers_ = 0;
};

struct Attached {
    std::string role;
    std::unique_ptr<Program> program;
};

TEST(HostileWriter, DamagedControlRegionCrashesHangsAndSpinsNothingAndANewWriterRecovers) {
    const std::string name = test::unique_name("hostile");
    SegmentGuard guard(name);
    const char* seed_env = std::getenv("FRAMEBUS_HOSTILE_SEED");
    const std::uint64_t seed = seed_env != nullptr ? std::stoull(seed_env) : std::random_device{}();
    std::printf("hostile writer: seed %llu (FRAMEBUS_HOSTILE_SEED), %.0f s\n",
                static_cast<unsigned long long>(seed), hostile_seconds());
    std::mt19937_64 rng(seed);

    const std::string writer_bin = FRAMEBUS_WRITER_BIN;
    const std::string reader_bin = FRAMEBUS_READER_BIN;
    const std::string cli_bin = FRAMEBUS_CLI_BIN;
    const std::vector<std::string> writer_args = {
        writer_bin, "--name", name,  "--mode",  "0666",          "--resize",
        "64x48",    "--fps",  "200", "--quiet", "--max-readers", "6"};
    test::ProgramOptions headless;
    headless.env = {"DISPLAY="};  // no window
    std::vector<Attached> attached;
    attached.push_back({"writer", start(writer_args)});
    const std::vector<std::pair<std::string, std::vector<std::string>>> readers = {
        {"latest reader", {reader_bin, "--headless", "--quiet", "--wait", "20", name}},
        {"next reader", {reader_bin, "--headless", "--quiet", "--every", "--wait", "20", name}},
        {"verifying reader",
         {reader_bin, "--headless", "--quiet", "--verify", "--every", "--wait", "20", name}},
        {"following reader",
         {reader_bin, "--headless", "--quiet", "--no-exit-on-eos", "--wait", "20", name}}};
    for (const auto& [role, argv] : readers) attached.push_back({role, start(argv, headless)});
    ASSERT_TRUE(eventually([&] { return test::segment_exists(name); }, 20s));

    ControlRegion region(name);
    ASSERT_TRUE(region.mapped());
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(hostile_seconds());
    std::uint64_t rounds = 0;
    std::uint64_t cli_runs = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        region.damage(rng, 1 + static_cast<int>(rng() % 8));
        ++rounds;
        // The CLI reads the damaged region too: each call ends, and never by a signal.
        if (rounds % 200 == 0) {
            for (const char* command : {"info", "ls", "watch"}) {
                std::vector<std::string> argv = {cli_bin, command};
                if (std::string(command) != "ls") argv.push_back(name);
                if (std::string(command) == "watch")
                    argv.insert(argv.end(), {"--count", "2", "--interval", "0.05"});
                auto run = test::run_program(argv, 5s);
                ASSERT_TRUE(run.exit_code.has_value()) << command << " hung";
                EXPECT_GE(*run.exit_code, 0) << command << " died: " << run.err;
                EXPECT_LE(*run.exit_code, 2) << command << ": " << run.err;
                ++cli_runs;
            }
        }
        std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 2000));
    }
    std::printf("hostile writer: %llu rounds, %llu CLI runs\n",
                static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(cli_runs));

    // The damage stays. Who still runs must be quiet: a spinning loop burns
    // a whole second of CPU in a second; waiting and 200 fps of 64x48 do not.
    std::vector<double> before;
    for (auto& a : attached) before.push_back(cpu_seconds(a.program->pid()));
    std::this_thread::sleep_for(1s);
    for (std::size_t i = 0; i < attached.size(); ++i) {
        Program& p = *attached[i].program;
        if (!running(p)) continue;
        const double used = cpu_seconds(p.pid()) - before[i];
        EXPECT_LT(used, 0.5) << attached[i].role << " spins (" << used
                             << " s of CPU in 1 s): " << describe(p);
    }
    // No crash, no hang: what still runs ends within a second of SIGTERM.
    for (auto& a : attached) {
        Program& p = *a.program;
        if (running(p)) p.kill(SIGTERM);
        const auto code = p.wait(1s);
        ASSERT_TRUE(code.has_value()) << a.role << " did not answer SIGTERM in 1 s";
        EXPECT_GE(*code, 0) << a.role << " died of signal " << -*code << ": " << describe(p);
        EXPECT_LE(*code, 2) << a.role << ": " << describe(p);
    }

    // A new writer on the name takes over whatever is left (its writer is
    // dead), and the stream works again.
    auto writer = start(writer_args);
    auto reader = test::run_program(
        {reader_bin, "--headless", "--verify", "--max-frames", "10", "--wait", "20", name}, 30s);
    EXPECT_EQ(reader.exit_code, 0) << reader.err << "\nwriter: " << describe(*writer);
    writer->kill(SIGTERM);
    EXPECT_EQ(writer->wait(5s), 0) << describe(*writer);
}

}  // namespace
}  // namespace framebus::reliability
