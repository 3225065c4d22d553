// The hot paths make no system call: acquire, commit, lease and release run
// in a child under a seccomp filter that kills it on any system call but
// write and exit. (The futex wake is the one exception, and no reader waits.
// A filter, not SECCOMP_MODE_STRICT: strict mode also disables the TSC, so
// the vDSO clock read, which is no system call, would fault.)
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "test_support.hpp"

namespace framebus {
namespace {

// Allows write and exit, kills on anything else.
bool allow_only_write_and_exit() {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    };
    struct sock_fprog program {
        static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter
    };
    return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

class HotPath : public ::testing::TestWithParam<bool> {};  // WriterOptions::reuse_newest

TEST_P(HotPath, PublishAndLeaseMakeNoSystemCall) {
    const bool reuse_newest = GetParam();
    const std::string name = test::unique_name("nosyscall");
    test::Pipe result;
    test::Child child([&]() -> int {
        const FrameFormat format = FrameFormat::packed(64, 48, PixelFormat::bgr24);
        WriterOptions options;
        options.name = name;
        options.max_readers = 2;
        options.initial_format = format;
        options.reuse_newest = reuse_newest;
        // The upkeep thread is not the hot path; it would also keep the child
        // alive past its SYS_exit (which ends this thread only).
        options.upkeep_interval = std::chrono::milliseconds(0);
        auto writer = Writer::create(options);
        if (!writer) return 10;
        auto latest_reader = Reader::open(name);
        auto next_reader = Reader::open(name);
        if (!latest_reader || !next_reader) return 11;
        // From here on: write and exit only.
        if (!allow_only_write_and_exit()) return 12;
        std::uint64_t ok = 0;
        for (int i = 0; i < 1000; ++i) {
            auto slot = writer->acquire(format);
            if (!slot) break;
            slot->data()[0] = std::byte{1};
            slot->commit();
            auto a = latest_reader->latest();
            auto b = next_reader->next();
            if (!a || !b) break;
            ++ok;
        }  // leases released at the end of each iteration
        result.send(ok);
        result.send(writer->stats().newest_reused);
        ::syscall(SYS_exit, 0);  // exit, not exit_group: the filter allows only that
        return 13;
    });
    EXPECT_EQ(result.receive(std::chrono::seconds(20)), 1000u)
        << "a system call on the hot path kills the child (SIGSYS)";
    const auto reused = result.receive(std::chrono::seconds(5));
    ASSERT_TRUE(reused);
    if (reuse_newest) {
        EXPECT_EQ(*reused, 999u) << "both readers had every frame: each went over the last";
    } else {
        EXPECT_EQ(*reused, 0u);
    }
    EXPECT_EQ(child.wait_exit_code(std::chrono::seconds(20)), 0);
    test::remove_segment_file(name);
}

INSTANTIATE_TEST_SUITE_P(Writers, HotPath, ::testing::Bool(), [](const auto& info) {
    return std::string(info.param ? "ReuseNewest" : "Default");
});

}  // namespace
}  // namespace framebus
