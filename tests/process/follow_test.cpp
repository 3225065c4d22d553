// ReaderOptions::follow: the library follows a name across writer restarts,
// writer deaths and segment replacements, with totals carried across. Real
// writer processes, killed or ended at chosen moments.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "test_support.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;

const FrameFormat kSmall = FrameFormat::packed(64, 16, PixelFormat::bgr24);
const FrameFormat kLarge = FrameFormat::packed(128, 64, PixelFormat::bgr24);

// A writer process: publishes `frames` frames (the last `grown` of them in
// kLarge, which replaces the segment), says so, then on a command ends the
// stream and exits; killed, it just dies.
test::Child writer_process(const std::string& name, std::uint64_t frames, std::uint64_t grown,
                           test::Pipe& published, test::Pipe& commands) {
    return test::Child([=, &published, &commands] {
        WriterOptions options;
        options.name = name;
        options.max_readers = 2;
        options.initial_format = kSmall;
        auto writer = Writer::create(options);
        if (!writer) return 10;
        for (std::uint64_t i = 0; i < frames; ++i) {
            const FrameFormat& format = i + grown >= frames ? kLarge : kSmall;
            auto slot = writer->acquire(format);
            if (!slot) return 11;
            test::fill_frame(slot->data(), format.bytes(), slot->sequence());
            slot->commit();
        }
        published.send(frames);
        if (!commands.receive(30s)) return 12;
        writer->close();
        return 0;
    });
}

struct Follower {
    Reader reader;
    std::uint64_t mismatches = 0;

    // Reads (latest mode) until `status` comes; every other status but a
    // frame or a timeout is returned at once.
    WaitStatus read_until(WaitStatus status, std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            const WaitStatus got = reader.wait(50ms);
            if (got == WaitStatus::frame) {
                auto lease = reader.latest();
                if (lease) {
                    mismatches += test::check_frame(lease->data(), lease->format().bytes(),
                                                    lease->sequence()) != 0;
                }
                continue;
            }
            if (got == status || got != WaitStatus::timed_out) return got;
        }
        return WaitStatus::timed_out;
    }
};

Follower follow(const std::string& name) {
    ReaderOptions options;
    options.follow = true;
    options.wait_for_segment = 10s;
    auto reader = Reader::open(name, options);
    EXPECT_TRUE(reader) << reader.error().message;
    return Follower{std::move(*reader)};
}

TEST(Follow, AReplacementByABiggerFrameIsFollowedByTheSameWriter) {
    const std::string name = test::unique_name("follow-grow");
    test::Pipe published, commands;
    test::Pipe go;
    // The reader attaches before the growth: the writer publishes 1 small
    // frame, and the rest only once we are there.
    test::Child writer([&] {
        WriterOptions options;
        options.name = name;
        options.max_readers = 2;
        options.initial_format = kSmall;
        auto w = Writer::create(options);
        if (!w) return 10;
        auto publish = [&](const FrameFormat& format) {
            auto slot = w->acquire(format);
            if (!slot) return false;
            test::fill_frame(slot->data(), format.bytes(), slot->sequence());
            slot->commit();
            return true;
        };
        if (!publish(kSmall)) return 11;
        published.send(1);
        if (!go.receive(30s)) return 12;
        for (int i = 0; i < 5; ++i)
            if (!publish(kLarge)) return 13;
        published.send(2);
        if (!commands.receive(30s)) return 14;
        return 0;
    });
    ASSERT_TRUE(published.receive(10s));
    Follower f = follow(name);
    const std::uint32_t pid = f.reader.writer_pid();
    ASSERT_EQ(f.read_until(WaitStatus::timed_out, 200ms), WaitStatus::timed_out);
    go.send(1);
    ASSERT_TRUE(published.receive(10s));
    EXPECT_EQ(f.read_until(WaitStatus::followed, 5s), WaitStatus::followed);
    auto lease = f.reader.latest();
    ASSERT_TRUE(lease) << lease.error().message;
    EXPECT_EQ(lease->format(), kLarge);
    EXPECT_EQ(f.reader.writer_pid(), pid);
    EXPECT_EQ(f.reader.writer_restarts(), 0u) << "a replacement, not a restart";
    EXPECT_EQ(f.reader.follows(), 1u);
    EXPECT_EQ(f.mismatches, 0u);
    commands.send(1);
    EXPECT_EQ(writer.wait_exit_code(5s), 0) << "the writer cleans its segment up itself";
}

TEST(Follow, AWriterThatEndsAndANewOneAreFollowedWithTotalsCarried) {
    const std::string name = test::unique_name("follow-restart");
    test::Pipe published_a, commands_a, published_b, commands_b;
    {
        test::Child a = writer_process(name, 3, 0, published_a, commands_a);
        ASSERT_TRUE(published_a.receive(10s));
        Follower f = follow(name);
        auto first = f.reader.latest();  // frame 3
        ASSERT_TRUE(first);
        first->release();
        commands_a.send(1);
        EXPECT_EQ(f.read_until(WaitStatus::end_of_stream, 5s), WaitStatus::end_of_stream);
        EXPECT_EQ(a.wait_exit_code(5s), 0);

        test::Child b = writer_process(name, 4, 0, published_b, commands_b);
        ASSERT_TRUE(published_b.receive(10s));
        EXPECT_EQ(f.read_until(WaitStatus::followed, 5s), WaitStatus::followed);
        EXPECT_EQ(f.reader.writer_pid(), static_cast<std::uint32_t>(b.pid()));
        auto second = f.reader.latest();  // frame 4 of the new writer
        ASSERT_TRUE(second) << second.error().message;
        EXPECT_EQ(second->sequence(), 4u);
        EXPECT_EQ(f.reader.writer_restarts(), 1u);
        EXPECT_EQ(f.reader.frames(), 2u) << "one frame of each writer";
        commands_b.send(1);
        EXPECT_EQ(b.wait_exit_code(5s), 0);
    }
}

TEST(Follow, AKilledWriterIsReportedOnceAndItsSuccessorFollowed) {
    const std::string name = test::unique_name("follow-kill");
    test::Pipe published_a, commands_a, published_b, commands_b;
    test::Child a = writer_process(name, 2, 0, published_a, commands_a);
    ASSERT_TRUE(published_a.receive(10s));
    Follower f = follow(name);
    const auto killed = std::chrono::steady_clock::now();
    a.kill(SIGKILL);
    ASSERT_EQ(a.wait_exit_code(5s), -SIGKILL);
    EXPECT_EQ(f.read_until(WaitStatus::writer_gone, 5s), WaitStatus::writer_gone);
    EXPECT_LT(std::chrono::steady_clock::now() - killed, 1s) << "writer death seen late";
    // Looking for a new writer: quiet, no second writer_gone.
    EXPECT_EQ(f.read_until(WaitStatus::followed, 300ms), WaitStatus::timed_out);

    test::Child b = writer_process(name, 5, 0, published_b, commands_b);
    ASSERT_TRUE(published_b.receive(10s));
    EXPECT_EQ(f.read_until(WaitStatus::followed, 5s), WaitStatus::followed);
    EXPECT_EQ(f.reader.writer_restarts(), 1u);
    auto lease = f.reader.latest();
    ASSERT_TRUE(lease) << lease.error().message;
    EXPECT_EQ(lease->sequence(), 5u);
    EXPECT_EQ(f.mismatches, 0u);
    commands_b.send(1);
    EXPECT_EQ(b.wait_exit_code(5s), 0);
}

}  // namespace
}  // namespace framebus
