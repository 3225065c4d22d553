// Eclipse iceoryx 2.0 (Debian's iceoryx packages) through zero_copy.hpp's
// driver: UntypedPublisher loan()/publish(), UntypedSubscriber take()/
// release(), a WaitSet for the blocked reader. Its daemon, RouDi, is started
// by the first iceoryx benchmark with mempools that fit a 4K frame, and
// stopped by pid after the last one (or at exit).
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#include "iceoryx_versions.hpp"
#include "zero_copy.hpp"

namespace framebus::bench {
namespace {

// One payload segment, one mempool per frame size; a chunk holds the frame
// plus iceoryx's chunk header. 8 chunks each: the subscriber queue (4) +
// the chunk it holds + the one being written, with room to spare.
constexpr const char* kRouDiConfig = R"([general]
version = 1

[[segment]]

[[segment.mempool]]
size = 1048576
count = 8

[[segment.mempool]]
size = 6291456
count = 8

[[segment.mempool]]
size = 25165824
count = 8
)";
constexpr std::uint64_t kSubscriberQueue = 4;

std::optional<std::string> find_in_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return std::nullopt;
}

// iox-roudi as a child of this process: started once, stopped by its pid.
class RouDi {
  public:
    ~RouDi() { stop(); }

    // True once RouDi said "ready for clients"; else `error` says why not.
    bool ensure_running(std::string& error) {
        if (pid_ > 0) return true;
        if (failed_) {
            error = error_;
            return false;
        }
        failed_ = !start(error_);
        error = error_;
        return !failed_;
    }

    void stop() {
        if (pid_ <= 0 || ::getpid() != owner_) return;
        // RouDi SIGTERMs every process still registered when it shuts down,
        // and aborts (leaving its shared memory behind) if one is gone: let
        // its monitoring drop our exited roles first (keep-alive timeout 1.5 s).
        ::usleep(2'000'000);
        ::kill(pid_, SIGTERM);  // RouDi removes its shared memory on SIGTERM
        int status = 0;
        if (!exited_within(std::chrono::seconds(10), status)) {
            std::fprintf(stderr, "framebus-bench: iox-roudi ignored SIGTERM for 10 s; killed\n");
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
        }
        if (!WIFEXITED(status)) {  // killed or aborted: what it leaves in /dev/shm
            std::fprintf(stderr,
                         "framebus-bench: iox-roudi did not exit cleanly; removing its "
                         "shared memory\n");
            ::shm_unlink("iceoryx_mgmt");
            if (const passwd* user = ::getpwuid(::geteuid())) ::shm_unlink(user->pw_name);
        }
        pid_ = -1;
    }

  private:
    bool start(std::string& error) {
        const auto program = find_in_path("iox-roudi");
        if (!program) return error = "iox-roudi not found in PATH", false;
        const std::string config = temp_dir() + "/roudi.toml";
        const std::string log = temp_dir() + "/roudi.log";
        std::ofstream(config) << kRouDiConfig;
        pid_ = ::fork();
        if (pid_ < 0) return error = "fork failed", false;
        if (pid_ == 0) {
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd >= 0) {
                ::dup2(fd, STDOUT_FILENO);
                ::dup2(fd, STDERR_FILENO);
            }
            ::execl(program->c_str(), "iox-roudi", "-c", config.c_str(), "-l", "info", "-k", "1",
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        // It reserves (and touches) its segments first: a few seconds.
        const std::int64_t deadline = now_ns() + 60'000'000'000;
        for (;;) {
            std::ifstream in(log);
            const std::string text{std::istreambuf_iterator<char>(in), {}};
            if (text.find("RouDi is ready for clients") != std::string::npos) return true;
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                const auto end = text.find_last_not_of("\n ");
                const auto line = text.rfind('\n', end == std::string::npos ? 0 : end);
                error = "iox-roudi exited before it was ready (another RouDi running?): " +
                        text.substr(line == std::string::npos ? 0 : line + 1);
                return false;
            }
            if (now_ns() > deadline) {
                stop();
                return error = "iox-roudi was not ready within 60 s", false;
            }
            ::usleep(10'000);
        }
    }

    bool exited_within(std::chrono::seconds timeout, int& status) {
        const std::int64_t deadline = now_ns() + timeout.count() * 1'000'000'000;
        while (now_ns() < deadline) {
            if (::waitpid(pid_, &status, WNOHANG) == pid_) return true;
            ::usleep(10'000);
        }
        return false;
    }

    pid_t pid_ = -1;
    pid_t owner_ = ::getpid();
    bool failed_ = false;
    std::string error_;
};

RouDi& roudi() {
    static RouDi daemon;
    return daemon;
}

// The runtime is one per process, named after it (every role is a child).
void init_runtime() {
    static const bool done = [] {
        // Its debug chatter would land in the benchmark's output.
        iox::log::LogManager::GetLogManager().SetDefaultLogLevel(
            iox::log::LogLevel::kWarn, iox::log::LogLevelOutput::kHideLogLevel);
        const std::string name = "fbbench-" + std::to_string(::getpid());
        iox::runtime::PoshRuntime::initRuntime(
            iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
        return true;
    }();
    (void)done;
}

iox::capro::ServiceDescription service(const std::string& name) {
    return {"framebus-bench", iox::capro::IdString_t(iox::cxx::TruncateToCapacity, name.c_str()),
            "frame"};
}

struct IceoryxTransport {
    static constexpr const char* kName = "iceoryx";

    class Writer {
      public:
        static std::unique_ptr<Writer> open(const std::string& name, FrameSize size) {
            init_runtime();
            return std::unique_ptr<Writer>(new Writer(name, size));
        }
        [[nodiscard]] bool connected() const { return publisher_.hasSubscribers(); }
        std::byte* loan() {
            auto chunk = publisher_.loan(bytes_);
            if (chunk.has_error()) return nullptr;
            loaned_ = chunk.value();
            return static_cast<std::byte*>(loaned_);
        }
        void publish() { publisher_.publish(loaned_); }

      private:
        Writer(const std::string& name, FrameSize size)
            : publisher_(service(name)), bytes_(static_cast<std::uint32_t>(size.bytes())) {}
        iox::popo::UntypedPublisher publisher_;
        std::uint32_t bytes_;
        void* loaned_ = nullptr;
    };

    class Reader {
      public:
        static std::unique_ptr<Reader> open(const std::string& name, FrameSize) {
            init_runtime();
            auto reader = std::unique_ptr<Reader>(new Reader(name));
            if (reader->waitset_
                    .attachState(reader->subscriber_, iox::popo::SubscriberState::HAS_DATA)
                    .has_error())
                return nullptr;
            return reader;
        }
        [[nodiscard]] bool connected() const {
            return subscriber_.getSubscriptionState() == iox::SubscribeState::SUBSCRIBED;
        }
        [[nodiscard]] bool wait() {
            return !waitset_.timedWait(iox::units::Duration::fromSeconds(10)).empty();
        }
        const std::byte* take() {
            auto chunk = subscriber_.take();
            if (chunk.has_error()) return nullptr;
            taken_ = chunk.value();
            return static_cast<const std::byte*>(taken_);
        }
        void release() { subscriber_.release(taken_); }

      private:
        explicit Reader(const std::string& name) : subscriber_(service(name), options()) {}
        static iox::popo::SubscriberOptions options() {
            iox::popo::SubscriberOptions o;
            o.queueCapacity = kSubscriberQueue;
            return o;
        }
        iox::popo::UntypedSubscriber subscriber_;
        iox::popo::WaitSet<> waitset_;
        const void* taken_ = nullptr;
    };
};

// RouDi first (in this process, before the roles are forked).
void iceoryx_latency(benchmark::State& state, FrameSize size, ZeroCopyCase what, int warmup) {
    std::string error;
    if (!roudi().ensure_running(error)) return fail(state, error);
    zero_copy_latency<IceoryxTransport>(state, size, what, warmup);
}

void iceoryx_rate(benchmark::State& state, FrameSize size) {
    std::string error;
    if (!roudi().ensure_running(error)) return fail(state, error);
    zero_copy_rate<IceoryxTransport>(state, size);
}

// The many-readers case of fanout_bench.cpp for iceoryx: `readers`
// subscriber processes, each blocked in its WaitSet, one publisher process;
// a frame is sent once every reader took the previous one and said it is
// about to block, plus 1 ms so that all of them sleep (iceoryx has no waiter
// count to look at). Publish = loan() + stamp + publish(), timed in the
// publisher; wake = now_ns() after take() - the stamp, first and last reader.
void iceoryx_fanout(benchmark::State& state, std::uint32_t readers, std::uint32_t paced,
                    std::uint32_t warmup) {
    std::string error;
    if (!roudi().ensure_running(error)) return fail(state, error);
    const std::string name = unique_segment_name("icefan");
    const FrameSize size = kFrameSizes[0];
    const std::size_t publish_at = std::size_t{readers} * paced;
    SharedChannel ch(publish_at + paced);
    std::int64_t* samples = ch.samples();
    std::fill(samples, samples + publish_at + paced, -1);
    std::vector<std::unique_ptr<ChildProcess>> processes;
    for (std::uint32_t r = 0; r < readers; ++r) {
        processes.push_back(std::make_unique<ChildProcess>([&, r] {
            // One registration with RouDi at a time: 64 at once on 2 CPUs
            // starve their keep-alive threads and RouDi drops them.
            if (!ch->go.wait_for(1, 0) || !ch->ready.wait_for(r, 0, std::chrono::seconds(120)))
                return 3;
            auto reader = IceoryxTransport::Reader::open(name, size);
            if (!reader || !wait_until([&] { return reader->connected(); })) return 4;
            ch->ready.add();
            for (std::uint32_t n = 0; n < paced; ++n) {
                ch->armed.add();
                const std::byte* frame = nullptr;
                while ((frame = reader->take()) == nullptr)
                    if (!reader->wait()) return 5;
                const std::int64_t taken_ns = now_ns();
                std::int64_t stamp = 0;
                std::memcpy(&stamp, frame, sizeof stamp);
                samples[std::size_t{r} * paced + n] = taken_ns - stamp;
                reader->release();
                ch->acked[0].add();
            }
            return 0;
        }));
    }
    ChildProcess writer_process([&] {
        pin_this_thread(writer_cpu());
        auto writer = IceoryxTransport::Writer::open(name, size);
        if (!writer) return 3;
        ch->go.store(1);
        if (!ch->ready.wait_for(readers, 0, std::chrono::seconds(120))) return 4;
        for (std::uint32_t n = 0; n < paced; ++n) {
            if (!ch->acked[0].wait_for(readers * n, 0) || !ch->armed.wait_for(readers * (n + 1), 0))
                return 5;
            ::usleep(1000);
            const std::int64_t t0 = now_ns();
            std::byte* frame = writer->loan();
            if (frame == nullptr) return 6;
            const std::int64_t stamp = now_ns();
            std::memcpy(frame, &stamp, sizeof stamp);
            writer->publish();
            samples[publish_at + n] = now_ns() - t0;
        }
        return ch->acked[0].wait_for(readers * paced, 0) ? 0 : 7;
    });
    const int code = writer_process.wait(std::chrono::seconds(300));
    ch->stop.store(1);
    if (code != 0) return fail(state, "publisher process failed with code " + std::to_string(code));
    for (auto& p : processes)
        if (!reap(state, *p, "reader")) return;
    for (auto _ : state) {
    }
    std::vector<std::int64_t> publish, first, last;
    for (std::uint32_t n = warmup; n < paced; ++n) {
        publish.push_back(samples[publish_at + n]);
        std::int64_t lo = INT64_MAX, hi = 0;
        for (std::uint32_t r = 0; r < readers; ++r) {
            const std::int64_t v = samples[std::size_t{r} * paced + n];
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        first.push_back(lo);
        last.push_back(hi);
    }
    const LatencySummary p = summarize(publish);
    state.counters["readers"] = readers;
    state.counters["publish_p50_ns"] = p.p50;
    state.counters["publish_p99_ns"] = p.p99;
    state.counters["first_wake_p50_ns"] = summarize(first).p50;
    state.counters["last_wake_p50_ns"] = summarize(last).p50;
    state.counters["last_wake_p99_ns"] = summarize(last).p99;
    state.counters["samples"] = static_cast<double>(publish.size());
}

}  // namespace

void register_iceoryx_fanout_benchmarks(std::uint32_t paced, std::uint32_t warmup) {
    if (!find_in_path("iox-roudi") || ::access("/dev/shm/iceoryx_mgmt", F_OK) == 0) return;
    benchmark::internal::Benchmark* last = nullptr;
    for (const std::uint32_t readers : {1u, 8u, 16u, 64u}) {
        last = benchmark::RegisterBenchmark(
                   ("ice_fanout/readers_" + std::to_string(readers)).c_str(),
                   [=](benchmark::State& s) { iceoryx_fanout(s, readers, paced, warmup); })
                   ->Unit(benchmark::kMillisecond)
                   ->UseRealTime()
                   ->Iterations(1);
    }
    last->Teardown([](const benchmark::State&) { roudi().stop(); });
}

std::optional<ZeroCopyTransport> iceoryx_zero_copy(std::string& why_not) {
    if (!find_in_path("iox-roudi")) {
        why_not = "iox-roudi not found in PATH (Debian package iceoryx)";
        return std::nullopt;
    }
    // iceoryx 2.0 allows one RouDi per machine, and ours needs its own mempools.
    if (::access("/dev/shm/iceoryx_mgmt", F_OK) == 0) {
        why_not = "another RouDi is running on this machine (iceoryx 2.0 allows only one)";
        return std::nullopt;
    }
    benchmark::AddCustomContext("iceoryx", std::to_string(ICEORYX_VERSION_MAJOR) + "." +
                                               std::to_string(ICEORYX_VERSION_MINOR) + "." +
                                               std::to_string(ICEORYX_VERSION_PATCH));
    return ZeroCopyTransport{IceoryxTransport::kName, &iceoryx_latency, &iceoryx_rate,
                             [](const benchmark::State&) { roudi().stop(); }};
}

}  // namespace framebus::bench
