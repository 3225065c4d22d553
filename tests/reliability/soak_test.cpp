// The soak run (issue 15's standing defence): a framebus-writer at full speed,
// 8 framebus-readers (latest, next, and verifying in both modes) and a
// `framebus clean NAME` loop, for a bounded time. Every few seconds it samples
// the resident memory and the open file descriptors of every process; at the
// end it asks:
//   - RSS and fd counts flat: the last sample no higher than the one taken
//     after warm-up (plus a small allowance for RSS: allocator noise);
//   - 0 mismatches from every verifying reader;
//   - frames + skipped = published for every next-mode reader (all attach
//     before the first frame: the writer waits for them);
//   - nothing left in /dev/shm.
// Label soak. Duration: --soak-seconds N (hours by hand), else
// FRAMEBUS_SOAK_SECONDS, else 20 s (the default suite); .ci/run gives 300.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "reliability_support.hpp"
#include "test_support.hpp"

namespace framebus::reliability {

double g_soak_seconds = 20;

namespace {

using namespace std::chrono_literals;

constexpr int kReaders = 8;
constexpr long kRssAllowanceKb = 4096;

long rss_kb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

long open_fds(pid_t pid) {
    DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (dir == nullptr) return -1;
    long n = 0;
    while (const dirent* e = ::readdir(dir))
        if (e->d_name[0] != '.') ++n;
    ::closedir(dir);
    return n;
}

struct Sample {
    long rss_kb = 0;
    long fds = 0;
};

struct Soaked {
    std::string role;
    std::unique_ptr<Program> program;
    bool every = false;
    bool verify = false;
    Sample warm;  // after warm-up
    Sample last;
    Sample peak;
};

TEST(Soak, FullSpeedWriterEightReadersAndACleanLoopStayFlatAndExact) {
    const std::string name = test::unique_name("soak");
    SegmentGuard guard(name);
    std::printf("soak: %.0f s (--soak-seconds / FRAMEBUS_SOAK_SECONDS)\n", g_soak_seconds);

    const std::string reader_bin = FRAMEBUS_READER_BIN;
    test::ProgramOptions headless;
    headless.env = {"DISPLAY="};  // no window
    std::vector<Soaked> procs;
    // Full speed (--fps 0), a small frame so the readers keep up most of the time.
    procs.push_back({"writer",
                     start({FRAMEBUS_WRITER_BIN, "--name", name, "--resize", "320x240", "--fps",
                            "0", "--quiet", "--max-readers", std::to_string(kReaders + 2),
                            "--wait-readers", std::to_string(kReaders)}),
                     false,
                     false,
                     {},
                     {},
                     {}});
    for (int r = 0; r < kReaders; ++r) {
        const bool every = r % 2 == 1;
        const bool verify = r >= kReaders / 2;
        std::vector<std::string> argv = {reader_bin, "--headless", "--quiet", "--wait", "30", name};
        if (every) argv.push_back("--every");
        if (verify) argv.push_back("--verify");
        procs.push_back({std::string(every ? "next" : "latest") + (verify ? " verifying" : "") +
                             " reader " + std::to_string(r),
                         start(argv, headless),
                         every,
                         verify,
                         {},
                         {},
                         {}});
    }

    ASSERT_TRUE(eventually([&] { return test::segment_exists(name); }, 30s))
        << describe(*procs[0].program);
    const auto begin = std::chrono::steady_clock::now();
    const auto end = begin + std::chrono::duration<double>(g_soak_seconds);
    const auto warm_at = begin + std::chrono::duration<double>(std::min(10.0, g_soak_seconds / 4));
    bool warmed = false;
    std::uint64_t cleans = 0;
    while (std::chrono::steady_clock::now() < end) {
        // The clean loop: on a live segment it reclaims dead readers (none) and keeps it.
        auto clean = test::run_program({FRAMEBUS_CLI_BIN, "clean", name}, 10s);
        ASSERT_EQ(clean.exit_code, 0) << clean.err;
        ++cleans;
        for (auto& p : procs) {
            ASSERT_TRUE(running(*p.program)) << p.role << " ended early: " << describe(*p.program);
            p.last = {rss_kb(p.program->pid()), open_fds(p.program->pid())};
            p.peak.rss_kb = std::max(p.peak.rss_kb, p.last.rss_kb);
            p.peak.fds = std::max(p.peak.fds, p.last.fds);
        }
        if (!warmed && std::chrono::steady_clock::now() >= warm_at) {
            for (auto& p : procs) p.warm = p.last;
            warmed = true;
        }
        std::this_thread::sleep_for(200ms);
    }
    ASSERT_TRUE(warmed);

    // The writer's SIGTERM ends the stream; readers drain it and exit 0.
    Program& writer = *procs[0].program;
    writer.kill(SIGTERM);
    ASSERT_EQ(writer.wait(20s), 0) << describe(writer);
    const auto writer_summary = summary_fields(writer.err(), "writer summary:");
    ASSERT_TRUE(writer_summary) << writer.err();
    const std::uint64_t published = field_u64(*writer_summary, "frames");
    std::printf("soak: %llu frames published, %llu clean runs\n",
                static_cast<unsigned long long>(published),
                static_cast<unsigned long long>(cleans));

    for (auto& p : procs) {
        std::printf("soak: %-26s rss %6ld -> %6ld kB (peak %6ld), fds %3ld -> %3ld\n",
                    p.role.c_str(), p.warm.rss_kb, p.last.rss_kb, p.peak.rss_kb, p.warm.fds,
                    p.last.fds);
        EXPECT_LE(p.last.rss_kb, p.warm.rss_kb + kRssAllowanceKb) << p.role << " grows";
        EXPECT_LE(p.last.fds, p.warm.fds) << p.role << " leaks file descriptors";
        if (&p == &procs[0]) continue;
        Program& reader = *p.program;
        ASSERT_EQ(reader.wait(20s), 0) << p.role << ": " << describe(reader);
        const auto summary = summary_fields(reader.out(), "summary:");
        ASSERT_TRUE(summary) << p.role << ": " << reader.out();
        const std::uint64_t frames = field_u64(*summary, "frames");
        const std::uint64_t skipped = field_u64(*summary, "skipped");
        std::printf("soak: %-26s frames %llu skipped %llu mismatches %llu\n", p.role.c_str(),
                    static_cast<unsigned long long>(frames),
                    static_cast<unsigned long long>(skipped),
                    static_cast<unsigned long long>(field_u64(*summary, "mismatches")));
        if (p.verify) {
            EXPECT_EQ(field_u64(*summary, "mismatches"), 0u) << p.role;
        }
        if (p.every) {
            EXPECT_EQ(frames + skipped, published) << p.role;
        } else {
            EXPECT_LE(frames + skipped, published) << p.role;
        }
    }
    EXPECT_FALSE(test::segment_exists(name));
}

}  // namespace
}  // namespace framebus::reliability

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    if (const char* env = std::getenv("FRAMEBUS_SOAK_SECONDS"))
        framebus::reliability::g_soak_seconds = std::strtod(env, nullptr);
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--soak-seconds") == 0 && i + 1 < argc)
            framebus::reliability::g_soak_seconds = std::strtod(argv[++i], nullptr);
    }
    return RUN_ALL_TESTS();
}
