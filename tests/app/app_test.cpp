// framebus::app checked in-process: exit codes, the escaping every program
// uses, and printing into a pipe nobody reads any more.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "framebus/app/program.hpp"

namespace framebus::app {
namespace {

TEST(AppExitCode, InputErrorsAreTwoOtherFailuresOne) {
    EXPECT_EQ(exit_code_of(Error{Errc::invalid_name, "x"}), kExitUsage);
    EXPECT_EQ(exit_code_of(Error{Errc::not_found, "x"}), kExitUsage);
    EXPECT_EQ(exit_code_of(Error{Errc::corrupt, "x"}), kExitUsage);
    EXPECT_EQ(exit_code_of(Error{Errc::system, "x"}), kExitFailed);
}

TEST(AppPrintable, ControlBytesAndEscapeSequencesBecomeHex) {
    EXPECT_EQ(printable("ok\x1b[2Jx\xff"), "ok\\x1b[2Jx\\xff");
    EXPECT_EQ(printable("two\nlines\r\t"), "two\\x0alines\\x0d\\x09");
    EXPECT_EQ(printable(std::string("nul\0del\x7f", 8)), "nul\\x00del\\x7f");
    EXPECT_EQ(printable("plain name-1.2_x"), "plain name-1.2_x");
}

// A pipe whose read end is closed: every write to it fails with EPIPE.
class ClosedPipe : public ::testing::Test {
  protected:
    void SetUp() override {
        ignore_sigpipe();  // without it the first write kills this test process
        int fds[2];
        ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        ::close(fds[0]);
        out_ = ::fdopen(fds[1], "w");
        ASSERT_NE(out_, nullptr);
    }
    void TearDown() override {
        if (out_ != nullptr) std::fclose(out_);
    }
    std::FILE* out_ = nullptr;
};

TEST_F(ClosedPipe, PrintReportsFailureWithoutThrowingOrDying) {
    errno = 0;
    EXPECT_FALSE(print(out_, "status frames={}\n", 42));
    EXPECT_EQ(errno, 0) << "print leaked its errno to the caller";
    // Buffered text larger than stdio's buffer fails the same way.
    EXPECT_FALSE(write_text(out_, std::string(1 << 20, 'x')));
    EXPECT_FALSE(print(out_, "again\n"));  // and keeps failing quietly
}

TEST(AppPrint, WritesAndFlushesToAWorkingStream) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    std::FILE* out = ::fdopen(fds[1], "w");
    ASSERT_NE(out, nullptr);
    EXPECT_TRUE(print(out, "frames={} {}\n", 7, "ok"));
    char buffer[64] = {};
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);  // flushed: no fclose needed
    EXPECT_EQ(std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0), "frames=7 ok\n");
    std::fclose(out);
    ::close(fds[0]);
}

}  // namespace
}  // namespace framebus::app
