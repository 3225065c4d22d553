// Issue 15, item by item, with the real programs: what a careless or hostile
// user can put under a segment's name or into a writable segment, and what
// each program must do about it (one line and exit 2, or carry on; never a
// crash, a hang or a spin). The random version of the same defence is
// hostile_writer_test.cpp.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "framebus/layout.hpp"
#include "framebus/name.hpp"
#include "framebus/writer.hpp"
#include "reliability_support.hpp"
#include "test_support.hpp"

namespace framebus::reliability {
namespace {

using namespace std::chrono_literals;
using layout::SegmentHeader;
using layout::SlotHeader;

const std::string kWriter = FRAMEBUS_WRITER_BIN;
const std::string kReader = FRAMEBUS_READER_BIN;
const std::string kCli = FRAMEBUS_CLI_BIN;
test::ProgramOptions headless_options() {
    test::ProgramOptions options;
    options.env = {"DISPLAY="};  // no window: the readers run headless
    return options;
}
const test::ProgramOptions kHeadless = headless_options();

// CPU seconds a running program uses in one second of wall time.
double cpu_in_one_second(Program& p) {
    const double before = cpu_seconds(p.pid());
    std::this_thread::sleep_for(1s);
    return cpu_seconds(p.pid()) - before;
}

// The whole segment mapped read-write by this process: another user with
// write permission, or the owner, being careless.
class Scribbler {
  public:
    explicit Scribbler(const std::string& name) {
        fd_ = ::open(segment_path(name).c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd_ < 0) return;
        struct stat st {};
        if (::fstat(fd_, &st) != 0) return;
        size_ = static_cast<std::size_t>(st.st_size);
        void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
        if (p != MAP_FAILED) header_ = static_cast<SegmentHeader*>(p);
    }
    ~Scribbler() {
        if (header_ != nullptr) ::munmap(header_, size_);
        if (fd_ >= 0) ::close(fd_);
    }
    Scribbler(const Scribbler&) = delete;
    Scribbler& operator=(const Scribbler&) = delete;
    [[nodiscard]] bool ok() const { return header_ != nullptr; }
    SegmentHeader& header() { return *header_; }
    SlotHeader& slot(std::uint32_t i) {
        return reinterpret_cast<SlotHeader*>(reinterpret_cast<std::byte*>(header_) +
                                             layout::slots_offset())[i];
    }
    void wake() {
        header_->publish_futex.fetch_add(1);  // and a futex wake is what a commit does
    }

  private:
    int fd_ = -1;
    std::size_t size_ = 0;
    SegmentHeader* header_ = nullptr;
};

// ---- things that are not segments under a segment's name (items 5 and 11) ---

enum class Squatter { fifo, symlink, directory };

class NotASegment : public ::testing::TestWithParam<Squatter> {};

TEST_P(NotASegment, EveryProgramSaysSoInOneLineWithExitTwoAndNeverBlocks) {
    const std::string name = test::unique_name("squat");
    const std::string path = segment_path(name);
    const std::string target = test::unique_name("target");
    switch (GetParam()) {
        case Squatter::fifo:
            ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
            break;
        case Squatter::symlink:
            test::write_file(segment_path(target), "not a segment");
            ASSERT_EQ(::symlink(segment_path(target).c_str(), path.c_str()), 0);
            break;
        case Squatter::directory:
            ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
            break;
    }
    const std::vector<std::vector<std::string>> runs = {
        {kCli, "info", name},
        {kCli, "clean", name},
        {kCli, "watch", name, "--count", "1"},
        {kReader, "--headless", name},
        {kWriter, "--name", name, "--max-frames", "1"},
    };
    for (const auto& argv : runs) {
        auto run = test::run_program(argv, 30s);
        SCOPED_TRACE(argv[0] + " " + argv[1]);
        ASSERT_TRUE(run.exit_code.has_value()) << "blocked";
        EXPECT_EQ(*run.exit_code, 2) << run.err;
        EXPECT_EQ(test::lines_of(run.err).size(), 1u) << run.err;
        EXPECT_NE(run.err.find("not a framebus segment"), std::string::npos) << run.err;
    }
    // Still there, untouched.
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0);
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::filesystem::remove(segment_path(target), ec);
}

INSTANTIATE_TEST_SUITE_P(Kinds, NotASegment,
                         ::testing::Values(Squatter::fifo, Squatter::symlink, Squatter::directory),
                         [](const auto& info) {
                             switch (info.param) {
                                 case Squatter::fifo:
                                     return "fifo";
                                 case Squatter::symlink:
                                     return "symlink";
                                 default:
                                     return "directory";
                             }
                         });

// ---- item 8: a squatter on the writer's temporary names ---------------------

TEST(HostileInput, SquattedTemporaryNamesDoNotBlockAWriter) {
    const std::string name = test::unique_name("tmpsquat");
    SegmentGuard guard(name);
    // Every name of the old scheme this process would use first.
    std::vector<std::string> squatted;
    for (int n = 0; n < 64; ++n) {
        squatted.push_back(segment_path(std::string(kTemporaryPrefix) + std::to_string(::getpid()) +
                                        "-" + std::to_string(n) + "-" + name));
        test::write_file(squatted.back(), "squatter");
    }
    WriterOptions options;
    options.name = name;
    options.initial_format = FrameFormat::packed(64, 48, PixelFormat::bgr24);
    auto writer = Writer::create(options);
    EXPECT_TRUE(writer) << writer.error().message;
    for (const auto& path : squatted) std::filesystem::remove(path);
}

// ---- items 6 and 7: single forged words ---------------------------------------

struct Running {
    std::unique_ptr<Program> writer;
    std::unique_ptr<Program> latest;
    std::unique_ptr<Program> every;
};

Running start_stream(const std::string& name, const std::string& fps = "100") {
    Running r;
    r.writer = start({kWriter, "--name", name, "--mode", "0666", "--resize", "64x48", "--fps", fps,
                      "--quiet", "--max-readers", "4"});
    r.latest = start({kReader, "--headless", "--wait", "20", name}, kHeadless);
    r.every = start({kReader, "--headless", "--every", "--wait", "20", name}, kHeadless);
    return r;
}

std::uint64_t frames_seen(Program& reader) {
    // The stats line, once a second: "... frames=N ..."
    const std::string err = reader.err();
    const auto at = err.rfind(" frames=");
    return at == std::string::npos ? 0 : std::stoull(err.substr(at + 8));
}

TEST(HostileInput, UnknownWriterStateAfterTheWriterDiedNeitherSpinsNorHidesItsDeath) {
    const std::string name = test::unique_name("state3");
    SegmentGuard guard(name);
    Running r = start_stream(name);
    ASSERT_TRUE(r.latest->wait_for_err("frames=", 20s)) << describe(*r.latest);
    Scribbler s(name);
    ASSERT_TRUE(s.ok());
    r.writer->kill(SIGKILL);
    ASSERT_EQ(r.writer->wait(5s), -SIGKILL);
    s.header().writer_state.store(3);
    s.wake();
    for (Program* reader : {r.latest.get(), r.every.get()}) {
        EXPECT_TRUE(reader->wait_for_err("is gone", 5s)) << describe(*reader);
        EXPECT_LT(cpu_in_one_second(*reader), 0.3) << "spins: " << describe(*reader);
    }
}

TEST(HostileInput, ForgedReplacedStateOnALiveWriterIsRepairedAndReadersCarryOn) {
    const std::string name = test::unique_name("state2");
    SegmentGuard guard(name);
    Running r = start_stream(name);
    ASSERT_TRUE(r.latest->wait_for_err("frames=", 20s)) << describe(*r.latest);
    Scribbler s(name);
    ASSERT_TRUE(s.ok());
    s.header().writer_state.store(2);
    s.wake();
    // The writer's upkeep (1 s) puts its state back; readers never say gone.
    ASSERT_TRUE(eventually([&] { return s.header().writer_state.load() == 0; }, 5s));
    const std::uint64_t before = frames_seen(*r.every);
    ASSERT_TRUE(eventually([&] { return frames_seen(*r.every) > before + 50; }, 10s))
        << describe(*r.every);
    for (Program* reader : {r.latest.get(), r.every.get()}) {
        EXPECT_EQ(reader->err().find("is gone"), std::string::npos) << describe(*reader);
        EXPECT_LT(cpu_in_one_second(*reader), 0.5) << "spins: " << describe(*reader);
    }
}

TEST(HostileInput, HolderBitsOfReadersThatCannotExistAreClearedByTheWriter) {
    const std::string name = test::unique_name("bits");
    SegmentGuard guard(name);
    Running r = start_stream(name, "200");
    ASSERT_TRUE(r.every->wait_for_err("frames=", 20s)) << describe(*r.every);
    Scribbler s(name);
    ASSERT_TRUE(s.ok());
    // Bits 60..63 in every slot: no reader entry has them (max_readers 4).
    for (std::uint32_t i = 0; i < s.header().slot_count; ++i)
        s.slot(i).holders.fetch_or(0xf000000000000000ull);
    const std::uint64_t before = frames_seen(*r.every);
    // Frames keep coming: the writer cleared the bits on its upkeep.
    ASSERT_TRUE(eventually([&] { return frames_seen(*r.every) > before + 200; }, 10s))
        << describe(*r.every);
    for (std::uint32_t i = 0; i < s.header().slot_count; ++i)
        EXPECT_EQ(s.slot(i).holders.load() & 0xf000000000000000ull, 0u);
}

TEST(HostileInput, AForgedHugeSequenceNeitherCapturesNorSpinsANextReader) {
    const std::string name = test::unique_name("hugeseq");
    SegmentGuard guard(name);
    Running r = start_stream(name);
    ASSERT_TRUE(r.every->wait_for_err("frames=", 20s)) << describe(*r.every);
    Scribbler s(name);
    ASSERT_TRUE(s.ok());
    // A slot that claims a frame far in the future: not newer than latest
    // allows, so never leased.
    s.slot(0).state.store(layout::committed_state(1ull << 40));
    const std::uint64_t before = frames_seen(*r.every);
    ASSERT_TRUE(eventually([&] { return frames_seen(*r.every) > before + 100; }, 10s))
        << describe(*r.every);
    // A forged `latest` on a stopped writer: readers wait, they do not spin.
    r.writer->kill(SIGSTOP);
    s.header().latest.store(layout::pack_latest(1ull << 50, 0));
    s.wake();
    std::this_thread::sleep_for(200ms);
    EXPECT_LT(cpu_in_one_second(*r.every), 0.3) << "spins: " << describe(*r.every);
    EXPECT_LT(cpu_in_one_second(*r.latest), 0.3) << "spins: " << describe(*r.latest);
    r.writer->kill(SIGCONT);
}

TEST(HostileInput, ANewWriterTakesOverACorruptSegmentWhoseWriterIsDead) {
    const std::string name = test::unique_name("corrupt");
    SegmentGuard guard(name);
    {
        auto first = start({kWriter, "--name", name, "--quiet", "--keep", "--max-frames", "3"});
        ASSERT_EQ(first->wait(20s), 0) << describe(*first);
    }
    {
        Scribbler s(name);
        ASSERT_TRUE(s.ok());
        s.header().slot_count = 9999;  // a forged write-once field: corrupt
    }
    auto second = test::run_program({kWriter, "--name", name, "--quiet", "--max-frames", "3"}, 20s);
    EXPECT_EQ(second.exit_code, 0) << second.err;
}

// ---- item 2: truncation under a running writer and reader -------------------

TEST(HostileInput, TruncatedUnderAWriterAndItsReadersNeitherDies) {
    const std::string name = test::unique_name("truncate");
    SegmentGuard guard(name);
    auto writer =
        start({kWriter, "--name", name, "--resize", "320x240", "--fps", "200", "--quiet"});
    // A reader holding every lease for a while (mid-lease), one that keeps up.
    auto slow = start(
        {kReader, "--headless", "--every", "--verify", "--hold-ms", "20", "--wait", "20", name},
        kHeadless);
    auto fast = start({kReader, "--headless", "--wait", "20", name}, kHeadless);
    ASSERT_TRUE(slow->wait_for_err("frames=", 20s)) << describe(*slow);
    ASSERT_TRUE(fast->wait_for_err("frames=", 20s)) << describe(*fast);
    // As `truncate -s 1000 /dev/shm/NAME` does.
    ASSERT_EQ(::truncate(segment_path(name).c_str(), 1000), 0);
    // The writer replaces the segment; the readers follow it and read on.
    ASSERT_TRUE(eventually(
        [&] {
            struct stat st {};
            return ::stat(segment_path(name).c_str(), &st) == 0 && st.st_size > 1000;
        },
        10s));
    for (Program* p : {writer.get(), slow.get(), fast.get()})
        ASSERT_TRUE(running(*p)) << describe(*p);
    ASSERT_TRUE(fast->wait_for_err("following", 10s)) << describe(*fast);
    writer->kill(SIGTERM);
    EXPECT_EQ(writer->wait(5s), 0) << describe(*writer);
    for (Program* p : {slow.get(), fast.get()}) {
        const auto code = p->wait(10s);
        ASSERT_TRUE(code.has_value()) << describe(*p);
        EXPECT_GE(*code, 0) << describe(*p);  // no signal, SIGBUS least of all
    }
}

// ---- item 12: an mmap that fails for want of address space ------------------

TEST(HostileInput, AnOutOfMemoryMappingSaysWhatFailed) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The sanitizers reserve terabytes of shadow address space at start-up:
    // under `ulimit -v` the program dies before main(). The plain build runs it.
    GTEST_SKIP() << "a sanitizer's shadow memory does not fit under ulimit -v";
#endif
    const std::string name = test::unique_name("oom");
    SegmentGuard guard(name);
    // 800 MB of frames in 800 MB of address space: the reservation fits
    // /dev/shm, the mapping does not fit the limit.
    auto run = test::run_program(
        {"/bin/sh", "-c",
         "ulimit -v 800000 && exec \"$0\" --name \"$1\" --resize 8192x8192 --slots 4 "
         "--max-frames 1",
         kWriter, name},
        30s);
    ASSERT_TRUE(run.exit_code.has_value());
    if (*run.exit_code == 0) GTEST_SKIP() << "the mapping fitted";
    if (run.err.find("reserving") != std::string::npos) GTEST_SKIP() << "/dev/shm is too small";
    EXPECT_EQ(*run.exit_code, 2) << run.err;
    EXPECT_EQ(run.err.find("/dev/shm full"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("mapping"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace framebus::reliability
