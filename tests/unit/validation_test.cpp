// DESIGN.md guarantees 8 (nothing in the segment is trusted), 9 (names),
// 10 (one writer per name) and 11 (no SIGBUS: space reserved up front).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "framebus/detail/sys.hpp"
#include "framebus/inspect.hpp"
#include "framebus/layout.hpp"
#include "framebus/name.hpp"
#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "test_support.hpp"

namespace framebus {
namespace {

using layout::SegmentHeader;
using layout::SlotHeader;

std::vector<std::byte> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> bytes(chars.size());
    std::memcpy(bytes.data(), chars.data(), chars.size());
    return bytes;
}

void write_file(const std::string& path, const std::vector<std::byte>& bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
}

// A live writer, as far as the kernel can tell: byte 0 locked through
// another open file description (even one of this process). Close it and
// that writer is dead.
int hold_writer_lock(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR);
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = layout::kWriterLockByte;
    lock.l_len = 1;
    if (fd >= 0 && ::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

template <class T>
void poke(std::vector<std::byte>& bytes, std::size_t offset, T value) {
    std::memcpy(bytes.data() + offset, &value, sizeof value);
}

// A real segment's bytes, with two frames published, for mutating.
class ValidSegment : public ::testing::Test {
  protected:
    void SetUp() override {
        name_ = test::unique_name("valid");
        WriterOptions options;
        options.name = name_;
        options.max_readers = 4;
        options.initial_format = FrameFormat::packed(32, 8, PixelFormat::bgr24);
        options.keep = true;
        auto writer = Writer::create(options);
        ASSERT_TRUE(writer) << writer.error().message;
        for (int i = 0; i < 2; ++i) {
            auto slot = writer->acquire(options.initial_format);
            ASSERT_TRUE(slot);
            slot->commit();
        }
        writer->close();
        bytes_ = read_file(segment_path(name_));
        ASSERT_GT(bytes_.size(), sizeof(SegmentHeader));
        test::remove_segment_file(name_);
    }
    void TearDown() override { test::remove_segment_file(name_); }

    Result<SegmentView> parse() const { return parse_segment(bytes_, bytes_.size()); }
    Errc parse_error() const {
        auto view = parse();
        return view ? Errc::system : view.error().code;  // system = "it parsed"
    }
    std::size_t slot_field(std::uint32_t slot, std::size_t field) const {
        return layout::slots_offset() + slot * sizeof(SlotHeader) + field;
    }

    std::string name_;
    std::vector<std::byte> bytes_;
};

TEST_F(ValidSegment, ParsesWithEveryFieldAsWritten) {
    auto view = parse();
    ASSERT_TRUE(view) << view.error().message;
    EXPECT_EQ(view->name, name_);
    EXPECT_EQ(view->slot_count, 10u);  // max_readers * leases_per_reader + 2
    EXPECT_EQ(view->max_readers, 4u);
    EXPECT_EQ(view->leases_per_reader, 2u);
    EXPECT_EQ(view->slot_capacity, 32u * 8 * 3);
    EXPECT_EQ(view->latest_sequence, 2u);
    EXPECT_EQ(view->frames_published, 2u);
    EXPECT_EQ(view->mode, 0600u);
    EXPECT_EQ(view->writer_pid, static_cast<std::uint32_t>(::getpid()));
    EXPECT_EQ(view->writer_state, layout::WriterState::end_of_stream);
    EXPECT_EQ(view->slots[view->latest_slot].format,
              FrameFormat::packed(32, 8, PixelFormat::bgr24));
}

TEST_F(ValidSegment, WrongMagicIsNotFramebus) {
    poke<std::uint64_t>(bytes_, 0, 0x1234);
    EXPECT_EQ(parse_error(), Errc::not_framebus);
}

TEST_F(ValidSegment, UnfinishedOrOtherVersionIsRejected) {
    poke<std::uint32_t>(bytes_, offsetof(SegmentHeader, layout_version), 0);
    EXPECT_EQ(parse_error(), Errc::corrupt);
    poke<std::uint32_t>(bytes_, offsetof(SegmentHeader, layout_version), 1);
    EXPECT_EQ(parse_error(), Errc::version_mismatch);
    EXPECT_NE(parse().error().message.find("made by an older framebus; restart its writer"),
              std::string::npos)
        << parse().error().message;
    poke<std::uint32_t>(bytes_, offsetof(SegmentHeader, layout_version),
                        layout::kLayoutVersion - 1);
    EXPECT_EQ(parse_error(), Errc::version_mismatch);
    poke<std::uint32_t>(bytes_, offsetof(SegmentHeader, layout_version),
                        layout::kLayoutVersion + 1);
    EXPECT_EQ(parse_error(), Errc::version_mismatch);
    poke<std::uint32_t>(bytes_, offsetof(SegmentHeader, layout_version), 0x5a5a5a5a);
    EXPECT_EQ(parse_error(), Errc::corrupt) << "noise after the magic is not a version";
}

TEST_F(ValidSegment, TruncatedObjectIsCorrupt) {
    EXPECT_EQ(parse_segment(bytes_, bytes_.size() - 4096).error().code, Errc::corrupt);
    EXPECT_EQ(parse_segment(std::span(bytes_).first(100), 100).error().code, Errc::corrupt);
    EXPECT_EQ(parse_segment(std::span(bytes_).first(4), 4).error().code, Errc::not_framebus);
    EXPECT_EQ(parse_segment(std::span(bytes_).first(1024), bytes_.size()).error().code,
              Errc::corrupt);  // control region cut short
}

TEST_F(ValidSegment, SizesThatOverflowOrDisagreeAreCorrupt) {
    auto original = bytes_;
    poke<std::uint32_t>(bytes_, offsetof(SegmentHeader, slot_count), 0xffffffff);
    EXPECT_EQ(parse_error(), Errc::corrupt);
    bytes_ = original;
    poke<std::uint32_t>(bytes_, offsetof(SegmentHeader, max_readers), 0);
    EXPECT_EQ(parse_error(), Errc::corrupt);
    bytes_ = original;
    poke<std::uint64_t>(bytes_, offsetof(SegmentHeader, slot_capacity), ~std::uint64_t{0});
    EXPECT_EQ(parse_error(), Errc::corrupt);
    bytes_ = original;
    poke<std::uint64_t>(bytes_, offsetof(SegmentHeader, slot_stride), 1);
    EXPECT_EQ(parse_error(), Errc::corrupt);
    bytes_ = original;
    poke<std::uint64_t>(bytes_, offsetof(SegmentHeader, data_offset), 0);
    EXPECT_EQ(parse_error(), Errc::corrupt);
    bytes_ = original;
    poke<std::uint64_t>(bytes_, offsetof(SegmentHeader, total_size), bytes_.size() * 2);
    EXPECT_EQ(parse_error(), Errc::corrupt);
    bytes_ = original;
    poke<std::uint32_t>(bytes_, offsetof(SegmentHeader, header_size), 64);
    EXPECT_EQ(parse_error(), Errc::corrupt);
}

TEST_F(ValidSegment, DynamicFieldsAreCheckedToo) {
    auto original = bytes_;
    poke<std::uint64_t>(bytes_, offsetof(SegmentHeader, latest), layout::pack_latest(2, 99));
    EXPECT_EQ(parse_error(), Errc::corrupt);
    bytes_ = original;
    poke<std::uint32_t>(bytes_, offsetof(SegmentHeader, writer_state), 7);
    EXPECT_EQ(parse_error(), Errc::corrupt);
    bytes_ = original;
    poke<std::uint64_t>(bytes_, slot_field(0, offsetof(SlotHeader, holders)),
                        std::uint64_t{1} << 40);
    EXPECT_EQ(parse_error(), Errc::corrupt);
    bytes_ = original;
    poke<std::uint32_t>(bytes_, slot_field(0, offsetof(SlotHeader, height)), 100000);
    EXPECT_EQ(parse_error(), Errc::corrupt);
    bytes_ = original;
    std::memset(bytes_.data() + offsetof(SegmentHeader, name), 'x', layout::kMaxNameLength + 1);
    EXPECT_EQ(parse_error(), Errc::corrupt);
}

TEST_F(ValidSegment, ReaderRefusesACorruptSegmentAndLeavesItAlone) {
    poke<std::uint64_t>(bytes_, offsetof(SegmentHeader, slot_capacity), 12345);
    write_file(segment_path(name_), bytes_);
    auto reader = Reader::open(name_);
    ASSERT_FALSE(reader);
    EXPECT_EQ(reader.error().code, Errc::corrupt);
    EXPECT_NE(reader.error().message.find(name_), std::string::npos) << reader.error().message;
    EXPECT_EQ(read_file(segment_path(name_)), bytes_);
}

TEST_F(ValidSegment, LeaseOfAnOutOfRangeLatestIsAnErrorNotACrash) {
    auto reader_bytes = bytes_;
    poke<std::uint32_t>(reader_bytes, offsetof(SegmentHeader, writer_state), 0);
    write_file(segment_path(name_), reader_bytes);
    auto reader = Reader::open(name_);
    ASSERT_TRUE(reader) << reader.error().message;
    // Corrupt it under the open reader, through the file.
    int fd = ::open(segment_path(name_).c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const std::uint64_t bad = layout::pack_latest(3, 200);
    ASSERT_EQ(::pwrite(fd, &bad, sizeof bad, offsetof(SegmentHeader, latest)), 8);
    ::close(fd);
    auto lease = reader->latest();
    ASSERT_FALSE(lease);
    EXPECT_EQ(lease.error().code, Errc::corrupt);
}

// Issue 15: a service restarted after damage must come back up. A corrupt
// segment whose writer lock is free (no live writer) is taken over like any
// dead writer's segment; one whose lock is held is left alone.
TEST_F(ValidSegment, WriterTakesOverACorruptSegmentWhoseWriterIsDead) {
    poke<std::uint64_t>(bytes_, offsetof(SegmentHeader, total_size), 1);
    write_file(segment_path(name_), bytes_);
    WriterOptions options;
    options.name = name_;
    options.slot_capacity = 4096;
    auto writer = Writer::create(options);
    ASSERT_TRUE(writer) << writer.error().message;
    EXPECT_NE(read_file(segment_path(name_)), bytes_);
}

TEST_F(ValidSegment, WriterRefusesACorruptSegmentWhoseWriterLockIsHeld) {
    poke<std::uint64_t>(bytes_, offsetof(SegmentHeader, total_size), 1);
    write_file(segment_path(name_), bytes_);
    const int fd = hold_writer_lock(segment_path(name_));
    ASSERT_GE(fd, 0);
    WriterOptions options;
    options.name = name_;
    options.slot_capacity = 4096;
    auto writer = Writer::create(options);
    ::close(fd);
    ASSERT_FALSE(writer);
    EXPECT_EQ(writer.error().code, Errc::corrupt);
    EXPECT_NE(writer.error().message.find("lock is held"), std::string::npos);
    EXPECT_EQ(read_file(segment_path(name_)), bytes_);
}

TEST(Validation, WriterNeverTouchesAForeignObject) {
    const std::string name = test::unique_name("foreign");
    std::vector<std::byte> garbage(5000, std::byte{0x5a});
    write_file(segment_path(name), garbage);
    WriterOptions options;
    options.name = name;
    options.slot_capacity = 4096;
    auto writer = Writer::create(options);
    ASSERT_FALSE(writer);
    EXPECT_EQ(writer.error().code, Errc::not_framebus);
    EXPECT_EQ(read_file(segment_path(name)), garbage);
    EXPECT_EQ(inspect(name).error().code, Errc::not_framebus);
    test::remove_segment_file(name);
}

TEST(Validation, NamesAreLettersDigitsDotUnderscoreDash) {
    for (const char* good : {"framebus", "cam0", "a.b_c-d", "X", "0"})
        EXPECT_TRUE(validate_name(good)) << good;
    const std::string long_name(64, 'a');
    for (const std::string& bad :
         {std::string(""), std::string("."), std::string(".."), std::string("a/b"),
          std::string("../etc"), std::string("/abs"), std::string(".hidden"), std::string("sp ace"),
          std::string("tab\t"), long_name})
        EXPECT_EQ(validate_name(bad).error().code, Errc::invalid_name) << bad;
    WriterOptions options;
    options.name = "../escape";
    options.slot_capacity = 64;
    EXPECT_EQ(Writer::create(options).error().code, Errc::invalid_name);
    EXPECT_EQ(Reader::open("a/b").error().code, Errc::invalid_name);
}

TEST(Validation, WriterOptionsOutOfRangeAreInvalidArguments) {
    const std::string name = test::unique_name("options");
    auto try_create = [&](auto&& tweak) {
        WriterOptions options;
        options.name = name;
        options.slot_capacity = 4096;
        tweak(options);
        auto writer = Writer::create(options);
        return writer ? Errc::system : writer.error().code;
    };
    EXPECT_EQ(try_create([](WriterOptions& o) { o.max_readers = 0; }), Errc::invalid_argument);
    EXPECT_EQ(try_create([](WriterOptions& o) { o.max_readers = 65; }), Errc::invalid_argument);
    EXPECT_EQ(try_create([](WriterOptions& o) { o.slots = 256; }), Errc::invalid_argument);
    EXPECT_EQ(try_create([](WriterOptions& o) { o.slot_capacity = 0; }), Errc::invalid_argument);
    EXPECT_EQ(try_create([](WriterOptions& o) { o.mode = 04755; }), Errc::invalid_argument);
    EXPECT_FALSE(test::segment_exists(name));
}

// Every object in /dev/shm whose name contains `needle`.
std::vector<std::string> shm_entries_containing(const std::string& needle) {
    std::vector<std::string> found;
    DIR* dir = ::opendir("/dev/shm");
    while (dir != nullptr) {
        const dirent* e = ::readdir(dir);
        if (e == nullptr) break;
        if (std::string(e->d_name).find(needle) != std::string::npos) found.push_back(e->d_name);
    }
    if (dir != nullptr) ::closedir(dir);
    return found;
}

TEST(Validation, FullShmIsAnErrorAtCreationAndLeavesNothing) {
    const std::string name = test::unique_name("nospace");
    sys::testing::fail_next_fallocate(ENOSPC);
    WriterOptions options;
    options.name = name;
    options.slot_capacity = 1 << 20;
    auto writer = Writer::create(options);
    ASSERT_FALSE(writer);
    EXPECT_EQ(writer.error().code, Errc::no_space);
    EXPECT_TRUE(is_input_error(writer.error().code));
    EXPECT_NE(writer.error().message.find("/dev/shm"), std::string::npos) << writer.error().message;
    EXPECT_TRUE(shm_entries_containing(name).empty());  // neither the name nor a temporary
}

TEST(Validation, SegmentIsCreatedOwnerOnlyUnlessAskedOtherwise) {
    for (std::uint32_t mode : {0600u, 0640u}) {
        const std::string name = test::unique_name("mode");
        WriterOptions options;
        options.name = name;
        options.slot_capacity = 4096;
        if (mode != 0600) options.mode = mode;
        const mode_t old_umask = ::umask(0077);  // the mode must not depend on the umask
        auto writer = Writer::create(options);
        ::umask(old_umask);
        ASSERT_TRUE(writer) << writer.error().message;
        struct stat st {};
        ASSERT_EQ(::stat(segment_path(name).c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, mode);
    }
}

}  // namespace
}  // namespace framebus

namespace framebus {
namespace {

TEST(Validation, OnlyTemporariesWhoseBuilderDiedAreOrphans) {
    const std::string orphan = std::string(kTemporaryPrefix) + "0-0-" + test::unique_name("orphan");
    const std::string building = std::string(kTemporaryPrefix) + "0-1-" + test::unique_name("live");
    for (const auto& name : {orphan, building})
        write_file(segment_path(name), std::vector<std::byte>(64));
    // A live builder holds the writer lock of its temporary.
    int fd = ::open(segment_path(building).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(sys::try_lock(fd, layout::kWriterLockByte), 0);

    const auto orphans = orphaned_temporaries();
    EXPECT_NE(std::find(orphans.begin(), orphans.end(), orphan), orphans.end());
    EXPECT_EQ(std::find(orphans.begin(), orphans.end(), building), orphans.end());
    EXPECT_EQ(remove_orphaned_temporary(building).error().code, Errc::live_writer);
    EXPECT_TRUE(test::segment_exists(building));
    EXPECT_TRUE(remove_orphaned_temporary(orphan));
    EXPECT_FALSE(test::segment_exists(orphan));
    EXPECT_EQ(remove_orphaned_temporary("framebus").error().code, Errc::invalid_name);
    ::close(fd);
    test::remove_segment_file(building);
}

// A segment of the previous layout under the name (an older framebus left it): readers
// and a new writer read its header the same way; the writer takes it over
// once its writer is dead, and refuses while that writer lives.
TEST_F(ValidSegment, AnOlderLayoutIsRefusedByReadersAndTakenOverWhenItsWriterIsDead) {
    poke<std::uint32_t>(bytes_, offsetof(SegmentHeader, layout_version),
                        layout::kLayoutVersion - 1);
    write_file(segment_path(name_), bytes_);

    auto reader = Reader::open(name_);
    ASSERT_FALSE(reader);
    EXPECT_EQ(reader.error().code, Errc::version_mismatch);
    EXPECT_TRUE(is_input_error(reader.error().code));
    EXPECT_NE(reader.error().message.find("made by an older framebus; restart its writer"),
              std::string::npos)
        << reader.error().message;

    WriterOptions options;
    options.name = name_;
    options.slot_capacity = 4096;
    options.upkeep_interval = std::chrono::milliseconds(0);
    {
        const int fd = hold_writer_lock(segment_path(name_));  // its writer alive
        ASSERT_GE(fd, 0);
        auto refused = Writer::create(options);
        ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error().code, Errc::version_mismatch) << refused.error().message;
        EXPECT_EQ(read_file(segment_path(name_)), bytes_) << "a live writer's segment is untouched";
        ::close(fd);  // that writer dies
    }
    auto writer = Writer::create(options);
    ASSERT_TRUE(writer) << writer.error().message;
    auto view = inspect(name_);
    ASSERT_TRUE(view) << view.error().message;
    EXPECT_EQ(view->layout_version, layout::kLayoutVersion);
}

// inspect() reads slot descriptions like a seqlock reader: while a writer
// keeps rewriting them with two shapes, every description it reports is one
// of the two, never a mix of both halves.
TEST(Inspect, ADescriptionReadWhileTheWriterRewritesItIsNeverTorn) {
    const std::string name = test::unique_name("seqlock");
    const FrameFormat wide = FrameFormat::packed(64, 8, PixelFormat::bgr24);
    const FrameFormat tall = FrameFormat::packed(16, 32, PixelFormat::bgr24);
    WriterOptions options;
    options.name = name;
    options.max_readers = 1;
    options.slots = 3;
    options.initial_format = wide;
    options.upkeep_interval = std::chrono::milliseconds(0);
    auto writer = Writer::create(options);
    ASSERT_TRUE(writer) << writer.error().message;
    std::atomic<bool> stop{false};
    std::thread publisher([&] {
        for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
            auto slot = writer->acquire(i % 2 == 0 ? wide : tall);
            if (slot) slot->commit();
            // A pause now and then, so some reads find the slots at rest too
            // (a writer that never pauses leaves every slot "being written").
            if (i % 4 == 3) std::this_thread::sleep_for(std::chrono::microseconds(300));
        }
    });
    int described = 0;
    for (int round = 0; round < 300; ++round) {
        auto view = inspect(name);
        ASSERT_TRUE(view) << view.error().message;
        for (const SlotView& s : view->slots) {
            if (s.writing || s.sequence == 0) continue;
            ++described;
            EXPECT_TRUE(s.format == wide || s.format == tall)
                << "slot " << s.index << " reads " << s.format.width << "x" << s.format.height
                << " stride " << s.format.stride();
        }
    }
    stop = true;
    publisher.join();
    EXPECT_GT(described, 0);
}

}  // namespace
}  // namespace framebus
