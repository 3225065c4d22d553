// DESIGN.md guarantee 1 (no torn frames) and 4 (loss is visible), with real
// processes: a writer publishing at full speed frames whose every byte derives
// from their sequence number, and readers that check every byte they lease.
#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <vector>

#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "test_support.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;

struct TornCase {
    const char* label;
    FrameFormat format;
    int latest_readers;
    int next_readers;
    std::chrono::milliseconds duration;
    bool reuse_newest = false;  // WriterOptions::reuse_newest
};

void PrintTo(const TornCase& c, std::ostream* os) {
    *os << c.label << ": " << c.format.width << "x" << c.format.height << ", " << c.latest_readers
        << " latest + " << c.next_readers << " next readers"
        << (c.reuse_newest ? ", reuse_newest" : "");
}

class TornFrames : public ::testing::TestWithParam<TornCase> {};

struct ReaderReport {
    std::uint64_t mismatched_frames = 0;
    std::uint64_t received = 0;
    std::uint64_t skipped = 0;
};

// Runs in a child: leases until end of stream, checking every byte. `polls`:
// calls latest() over and over without waiting (a viewer redrawing), so it
// also leases a frame it has, while a reuse_newest writer may overwrite it.
int read_and_verify(const std::string& name, bool next_mode, bool polls, test::Pipe& report) {
    auto reader = Reader::open(name, ReaderOptions{10s});
    if (!reader) return 10;
    ReaderReport r;
    for (;;) {
        const WaitStatus status = reader->wait(polls ? 0s : 2s);
        if (status == WaitStatus::end_of_stream) break;
        // The writer is alive throughout: only a poller's zero wait times out.
        if (status != WaitStatus::frame && !(polls && status == WaitStatus::timed_out)) return 11;
        auto lease = next_mode ? reader->next() : reader->latest();
        if (!lease) continue;  // overtaken: the next wait sees the newer frame
        r.mismatched_frames +=
            test::check_frame(lease->data(), lease->format().bytes(), lease->sequence()) != 0;
    }
    r.received = reader->frames();
    r.skipped = reader->skipped();
    report.send(r.mismatched_frames);
    report.send(r.received);
    report.send(r.skipped);
    return 0;
}

TEST_P(TornFrames, NoReaderEverSeesAFrameBeingWritten) {
    const TornCase& c = GetParam();
    const std::string name = test::unique_name(std::string("torn-") + c.label);
    const int readers = c.latest_readers + c.next_readers;

    std::vector<std::unique_ptr<test::Pipe>> reports;
    std::vector<test::Child> children;
    for (int i = 0; i < readers; ++i) {
        reports.push_back(std::make_unique<test::Pipe>());
        const bool next_mode = i >= c.latest_readers;
        test::Pipe& report = *reports.back();
        const bool polls = c.reuse_newest && !next_mode;
        children.emplace_back(
            [&, next_mode, polls] { return read_and_verify(name, next_mode, polls, report); });
    }
    test::Pipe published;
    test::Child writer_process([&] {
        WriterOptions options;
        options.name = name;
        options.max_readers = static_cast<std::uint32_t>(readers);
        options.initial_format = c.format;
        options.reuse_newest = c.reuse_newest;
        auto writer = Writer::create(options);
        if (!writer) return 20;
        // Start once every reader is attached, so none misses frame 1.
        const std::int64_t attach_deadline = now_ns() + 10'000'000'000;
        while (writer->readers_attached() < static_cast<std::uint32_t>(readers))
            if (now_ns() > attach_deadline) return 21;
        const std::int64_t end = now_ns() + std::chrono::nanoseconds(c.duration).count();
        std::uint64_t count = 0;
        while (now_ns() < end) {
            auto slot = writer->acquire(c.format);
            if (!slot) return 22;  // slots = readers + 2: never out of slots
            test::fill_frame(slot->data(), c.format.bytes(), slot->sequence());
            slot->commit();
            ++count;
        }
        writer->end_of_stream();
        published.send(count);
        published.send(writer->stats().dropped);
        published.send(writer->stats().newest_reused);
        return 0;
    });

    auto count = published.receive(c.duration + 20s);
    auto dropped = published.receive(1s);
    auto reused = published.receive(1s);
    ASSERT_TRUE(count && dropped && reused)
        << "writer exit: " << writer_process.wait_exit_code(5s).value_or(-99);
    EXPECT_EQ(*dropped, 0u);
    EXPECT_GT(*count, 10u);
    if (c.reuse_newest) {
        EXPECT_GT(*reused, 0u) << "the newest frame's slot was never rewritten: untested";
    } else {
        EXPECT_EQ(*reused, 0u);
    }
    EXPECT_EQ(writer_process.wait_exit_code(10s), 0);

    for (int i = 0; i < readers; ++i) {
        auto mismatched = reports[i]->receive(20s);
        auto received = reports[i]->receive(1s);
        auto skipped = reports[i]->receive(1s);
        ASSERT_TRUE(mismatched && received && skipped)
            << "reader " << i << " exit: " << children[i].wait_exit_code(5s).value_or(-99);
        EXPECT_EQ(*mismatched, 0u) << "reader " << i << " saw torn frames";
        EXPECT_GT(*received, 0u) << "reader " << i;
        if (i >= c.latest_readers) {
            EXPECT_EQ(*received + *skipped, *count)
                << "next reader " << i << ": nothing lost silently";
        }
        EXPECT_EQ(children[i].wait_exit_code(10s), 0);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, TornFrames,
    ::testing::Values(
        TornCase{"small", FrameFormat::packed(64, 16, PixelFormat::gray8), 4, 1, 1500ms},
        TornCase{"vga", FrameFormat::packed(640, 480, PixelFormat::bgr24), 4, 1, 2000ms},
        TornCase{"many", FrameFormat::packed(160, 120, PixelFormat::bgr24), 8, 2, 1500ms},
        // The writer overwrites the newest frame's slot whenever both
        // readers have it; the latest reader polls, leasing it again and
        // again: latest() must never lease it mid-write.
        TornCase{"reuse", FrameFormat::packed(160, 120, PixelFormat::bgr24), 1, 1, 1500ms, true}),
    [](const auto& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace framebus
