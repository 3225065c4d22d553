// Resource limits with the real programs: a /dev/shm too small for the
// segment, more readers than --max-readers, and a reader of another user
// without permission. Each must be one clear error line and exit code 2,
// and must leave everything else as it was.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "framebus/inspect.hpp"
#include "reliability_support.hpp"
#include "test_support.hpp"

namespace framebus::reliability {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kNobody = 65534;

std::string lowercase(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

// Exactly one line, `<program>: error: ...`, mentioning `topic`.
void expect_one_error_line(Program& p, const std::string& program, const std::string& topic) {
    const auto lines = test::lines_of(p.err());
    ASSERT_EQ(lines.size(), 1u) << describe(p);
    EXPECT_EQ(lines[0].rfind(program + ": error: ", 0), 0u) << lines[0];
    EXPECT_NE(lowercase(lines[0]).find(topic), std::string::npos) << lines[0];
}

// ---- /dev/shm too small --------------------------------------------------

// What the child inside the private mount namespace reports back.
struct SmallShmReport {
    int setup_errno = 0;  // non-zero: the namespace or the mount failed (skip)
    const char* setup_step = "";
    int writer_exit = -1000;
    int objects_left = -1;  // entries in the small /dev/shm after the writer
};

TEST(ResourceLimits, WriterOnATooSmallDevShmFailsCleanlyAndLeavesNothing) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for unshare(CLONE_NEWNS) and mount";
    const std::string name = test::unique_name("smallshm");
    // The report travels back through a memory file the child inherits.
    const int report_fd = ::memfd_create("framebus-test-report", 0);
    ASSERT_GE(report_fd, 0);
    std::vector<std::string> argv = {FRAMEBUS_WRITER_BIN, "--name",    name,
                                     "--resize",          "1920x1080", "--quiet"};
    std::string writer_stderr;

    test::Child child([&]() -> int {
        SmallShmReport report;
        auto fail_setup = [&](const char* step) {
            report.setup_errno = errno;
            report.setup_step = step;
            (void)!::pwrite(report_fd, &report, sizeof report, 0);
            return 0;
        };
        // A mount namespace of our own, mounts private so nothing leaks out,
        // and a 2 MB tmpfs over /dev/shm: a 1080p segment needs ~60 MB.
        if (::unshare(CLONE_NEWNS) != 0) return fail_setup("unshare(CLONE_NEWNS)");
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            return fail_setup("mount --make-rprivate /");
        if (::mount("framebus-test", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
                    "size=2m,mode=1777") != 0)
            return fail_setup("mount tmpfs on /dev/shm");
        {
            Program writer(argv);
            report.writer_exit = writer.wait(30s).value_or(-1000);
            const std::string err = writer.err();
            (void)!::pwrite(report_fd, err.data(), err.size(), sizeof report);
        }
        report.objects_left = 0;
        for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/dev/shm"))
            ++report.objects_left;
        (void)!::pwrite(report_fd, &report, sizeof report, 0);
        return 0;
    });
    ASSERT_EQ(child.wait_exit_code(60s), 0);

    SmallShmReport report;
    ASSERT_EQ(::pread(report_fd, &report, sizeof report, 0), static_cast<ssize_t>(sizeof report));
    char buffer[4096] = {};
    const ssize_t n = ::pread(report_fd, buffer, sizeof buffer - 1, sizeof report);
    ::close(report_fd);
    if (report.setup_errno != 0)
        GTEST_SKIP() << "no private mount namespace here: " << report.setup_step << ": "
                     << std::strerror(report.setup_errno);
    writer_stderr.assign(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);

    EXPECT_EQ(report.writer_exit, 2) << writer_stderr;
    const auto lines = test::lines_of(writer_stderr);
    ASSERT_EQ(lines.size(), 1u) << writer_stderr;
    EXPECT_EQ(lines[0].rfind("framebus-writer: error: ", 0), 0u) << lines[0];
    EXPECT_NE(lowercase(lines[0]).find("space"), std::string::npos) << lines[0];
    EXPECT_EQ(report.objects_left, 0) << "the writer left objects in the full /dev/shm";
    EXPECT_FALSE(test::segment_exists(name)) << "the small /dev/shm leaked into ours";
}

// ---- more readers than --max-readers -------------------------------------

TEST(ResourceLimits, AReaderPastMaxReadersGetsAClearErrorAndNothingElseChanges) {
    const std::string name = test::unique_name("maxreaders");
    SegmentGuard guard(name);
    Program writer({FRAMEBUS_WRITER_BIN, "--name", name, "--max-readers", "2", "--fps", "200",
                    "--resize", "160x120", "--quiet"});
    const std::vector<std::string> reader_argv = {
        FRAMEBUS_READER_BIN, "--name", name, "--headless", "--verify", "--quiet", "--wait", "20"};
    Program first(reader_argv);
    Program second(reader_argv);
    // Both readers attached (their OFD locks held) and reading frames.
    auto frames_of = [&](pid_t pid) -> std::uint64_t {
        auto v = inspect(name);
        if (!v) return 0;
        for (const ReaderView& r : v->readers)
            if (r.alive && r.pid == static_cast<std::uint32_t>(pid)) return r.frames;
        return 0;
    };
    ASSERT_TRUE(
        eventually([&] { return frames_of(first.pid()) > 0 && frames_of(second.pid()) > 0; }, 20s))
        << describe(writer) << "\n"
        << describe(first) << "\n"
        << describe(second);
    auto before = inspect(name);
    ASSERT_TRUE(before.ok());

    Program third(reader_argv);
    ASSERT_EQ(third.wait(20s), 2) << describe(third);
    expect_one_error_line(third, "framebus-reader", "reader");

    // Nothing else changed: same writer, same two readers, still reading and
    // verifying, no frame dropped.
    const std::uint64_t first_frames = frames_of(first.pid());
    const std::uint64_t second_frames = frames_of(second.pid());
    ASSERT_TRUE(eventually(
        [&] {
            return frames_of(first.pid()) > first_frames + 10 &&
                   frames_of(second.pid()) > second_frames + 10;
        },
        20s))
        << "the readers stopped reading after the extra one was refused";
    auto after = inspect(name);
    ASSERT_TRUE(after.ok()) << after.error().message;
    EXPECT_TRUE(after->writer_alive);
    EXPECT_EQ(after->writer_pid, before->writer_pid);
    EXPECT_EQ(after->created_realtime_ns, before->created_realtime_ns);
    EXPECT_EQ(after->frames_dropped, 0u);
    std::size_t alive = 0;
    for (const ReaderView& r : after->readers) {
        EXPECT_NE(r.pid, static_cast<std::uint32_t>(third.pid()))
            << "the refused reader left an entry";
        alive += r.alive;
    }
    EXPECT_EQ(alive, 2u);
    EXPECT_TRUE(running(first) && running(second));

    writer.kill(SIGTERM);  // end of stream: the readers exit on it
    EXPECT_EQ(writer.wait(10s), 0) << describe(writer);
    for (Program* r : {&first, &second}) {
        ASSERT_EQ(r->wait(10s), 0) << describe(*r);
        auto fields = summary_fields(r->out(), "summary:");
        ASSERT_TRUE(fields) << describe(*r);
        EXPECT_EQ(field_u64(*fields, "mismatches"), 0u);
        EXPECT_GT(field_u64(*fields, "verified"), 0u);
    }
}

// ---- a reader of another user ---------------------------------------------

TEST(ResourceLimits, AReaderOfAnotherUserWithoutPermissionGetsAClearErrorAndTouchesNothing) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a reader as another user";
    const std::string name = test::unique_name("otheruser");
    SegmentGuard guard(name);
    Program writer({FRAMEBUS_WRITER_BIN, "--name", name, "--fps", "100", "--resize", "160x120",
                    "--mode", "0600", "--quiet"});
    ASSERT_TRUE(eventually(
        [&] {
            auto v = inspect(name);
            return v && v->writer_alive && v->frames_published > 0;
        },
        20s))
        << describe(writer);
    struct stat st_before {};
    ASSERT_EQ(::stat(("/dev/shm/" + name).c_str(), &st_before), 0);
    ASSERT_EQ(st_before.st_mode & 0777, 0600u);
    ASSERT_EQ(st_before.st_uid, 0u);

    // nobody:nogroup, no supplementary groups: the kernel says no, not us.
    test::ProgramOptions as_nobody;
    as_nobody.run_as = kNobody;  // uid and gid 65534, no supplementary groups
    Program reader({FRAMEBUS_READER_BIN, "--name", name, "--headless", "--verify", "--quiet"},
                   as_nobody);
    const auto code = reader.wait(20s);
    ASSERT_TRUE(code.has_value()) << describe(reader);
    if ((*code == 125 || *code == 127) && reader.err().empty())
        GTEST_SKIP() << "could not run the reader as nobody (exit " << *code
                     << ": no setresuid here, or the binary is not reachable for uid 65534)";
    EXPECT_EQ(*code, 2) << describe(reader);
    expect_one_error_line(reader, "framebus-reader", "permission");

    // The segment is as it was: same object, mode, owner; no reader entry.
    struct stat st_after {};
    ASSERT_EQ(::stat(("/dev/shm/" + name).c_str(), &st_after), 0);
    EXPECT_EQ(st_after.st_ino, st_before.st_ino);
    EXPECT_EQ(st_after.st_mode, st_before.st_mode);
    EXPECT_EQ(st_after.st_uid, st_before.st_uid);
    auto v = inspect(name);
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_TRUE(v->writer_alive);
    EXPECT_TRUE(v->readers.empty());
    writer.kill(SIGTERM);
    EXPECT_EQ(writer.wait(10s), 0) << describe(writer);
}

}  // namespace
}  // namespace framebus::reliability
