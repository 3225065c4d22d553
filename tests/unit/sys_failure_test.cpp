// Every system call on a segment file goes through framebus::sys, so each one
// can be made to fail: the caller gets one clear error of the right kind, and
// nothing is left behind in /dev/shm (no name, no temporary), nothing that
// existed is damaged.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "framebus/detail/sys.hpp"
#include "framebus/inspect.hpp"
#include "framebus/name.hpp"
#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "test_support.hpp"

namespace framebus {
namespace {

using sys::Call;

const FrameFormat kSmall = FrameFormat::packed(32, 8, PixelFormat::bgr24);

// Names in /dev/shm that contain `needle` (the segment or one of its temporaries).
std::vector<std::string> entries_with(const std::string& needle) {
    std::vector<std::string> found;
    sys::Directory dir{std::string(kShmDirectory)};
    for (std::string e = dir.next(); !e.empty(); e = dir.next())
        if (e.find(needle) != std::string::npos) found.push_back(e);
    return found;
}

WriterOptions options_for(const std::string& name) {
    WriterOptions options;
    options.name = name;
    options.max_readers = 1;
    options.initial_format = kSmall;
    options.upkeep_interval = std::chrono::milliseconds(0);
    return options;
}

struct CreateFailure {
    const char* label;
    Call call;
    int err;
    Errc expected;
};

class WriterCreateFails : public ::testing::TestWithParam<CreateFailure> {};

TEST_P(WriterCreateFails, WithOneClearErrorAndNothingLeftBehind) {
    const CreateFailure& f = GetParam();
    const std::string name = test::unique_name(std::string("sysfail-") + f.label);
    sys::testing::fail_next(f.call, f.err);
    auto writer = Writer::create(options_for(name));
    sys::testing::fail_next(f.call, 0);
    ASSERT_FALSE(writer) << "the injected failure was not seen";
    EXPECT_EQ(writer.error().code, f.expected) << writer.error().message;
    EXPECT_EQ(writer.error().message.find('\n'), std::string::npos) << "one line";
    EXPECT_TRUE(is_input_error(writer.error().code) || writer.error().code == Errc::system);
    EXPECT_TRUE(entries_with(name).empty()) << "left behind: " << entries_with(name).front();
}

INSTANTIATE_TEST_SUITE_P(
    EachCall, WriterCreateFails,
    ::testing::Values(CreateFailure{"open-eacces", Call::shm_open, EACCES, Errc::permission_denied},
                      CreateFailure{"fallocate-enospc", Call::fallocate, ENOSPC, Errc::no_space},
                      CreateFailure{"mmap-enomem", Call::mmap, ENOMEM, Errc::no_space},
                      CreateFailure{"fstat-eio", Call::fstat, EIO, Errc::system},
                      CreateFailure{"link-eacces", Call::link, EACCES, Errc::permission_denied}),
    [](const auto& info) {
        std::string label = info.param.label;
        for (char& c : label)
            if (c == '-') c = '_';
        return label;
    });

TEST(SysFailure, ALinkRaceIsRetriedAndLeavesNoTemporary) {
    // EEXIST from link(): another writer won the name a moment ago. The
    // writer looks again, finds it free (the injected failure had no
    // segment behind it), and links.
    const std::string name = test::unique_name("sysfail-eexist");
    sys::testing::fail_next(Call::link, EEXIST);
    auto writer = Writer::create(options_for(name));
    ASSERT_TRUE(writer) << writer.error().message;
    EXPECT_EQ(entries_with(name), std::vector<std::string>{name}) << "exactly the segment";
}

TEST(SysFailure, AFailedReplacementKeepsTheOldSegmentWorking) {
    const std::string name = test::unique_name("sysfail-rename");
    auto writer = Writer::create(options_for(name));
    ASSERT_TRUE(writer) << writer.error().message;
    auto reader = Reader::open(name);
    ASSERT_TRUE(reader) << reader.error().message;
    {
        auto slot = writer->acquire(kSmall);
        ASSERT_TRUE(slot);
        slot->commit();
    }
    // A bigger frame needs a new segment; the rename that installs it fails.
    sys::testing::fail_next(Call::rename, EACCES);
    auto bigger = writer->acquire(FrameFormat::packed(64, 64, PixelFormat::bgr24));
    sys::testing::fail_next(Call::rename, 0);
    ASSERT_FALSE(bigger);
    EXPECT_EQ(bigger.error().code, Errc::permission_denied) << bigger.error().message;
    EXPECT_EQ(entries_with(name), std::vector<std::string>{name}) << "no temporary left";
    // The old segment still works for the writer and its reader.
    auto slot = writer->acquire(kSmall);
    ASSERT_TRUE(slot) << slot.error().message;
    slot->commit();
    auto lease = reader->latest();
    ASSERT_TRUE(lease) << lease.error().message;
    EXPECT_EQ(lease->sequence(), 2u);
}

TEST(SysFailure, ReaderAndInspectReportTheFailedCall) {
    const std::string name = test::unique_name("sysfail-open");
    auto writer = Writer::create(options_for(name));
    ASSERT_TRUE(writer) << writer.error().message;

    sys::testing::fail_next(Call::shm_open, EACCES);
    auto reader = Reader::open(name);
    ASSERT_FALSE(reader);
    EXPECT_EQ(reader.error().code, Errc::permission_denied) << reader.error().message;
    EXPECT_NE(reader.error().message.find(name), std::string::npos) << reader.error().message;

    sys::testing::fail_next(Call::mmap, ENOMEM);
    reader = Reader::open(name);
    ASSERT_FALSE(reader);
    EXPECT_NE(reader.error().message.find("mapping"), std::string::npos) << reader.error().message;

    sys::testing::fail_next(Call::pread, EIO);
    auto view = inspect(name);
    ASSERT_FALSE(view);
    EXPECT_EQ(view.error().code, Errc::system) << view.error().message;

    // And nothing of it stuck: the next open works.
    EXPECT_TRUE(Reader::open(name));
    EXPECT_TRUE(inspect(name));
}

TEST(SysFailure, AnUnreadableDirectoryListsNothingAndRemovesNothing) {
    const std::string name = test::unique_name("sysfail-dir");
    auto writer = Writer::create(options_for(name));
    ASSERT_TRUE(writer) << writer.error().message;
    sys::testing::fail_next(Call::opendir, EACCES);
    EXPECT_TRUE(list_segments().empty());
    EXPECT_EQ(entries_with(name), std::vector<std::string>{name});
}

}  // namespace
}  // namespace framebus
