#include "bench_support.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

namespace framebus::bench {

RunLengths full_run() {
    return RunLengths{};
}

RunLengths smoke_run() {
    RunLengths run;
    run.smoke = true;
    run.repetitions = 1;
    run.min_time_s = 0.01;
    run.latency_frames = 50;
    run.latency_warmup = 5;
    run.blocked_publish_frames = 20;
    run.pingpong_round_trips = 1'000;
    for (auto& n : run.baseline_latency_frames) n = 5;
    for (auto& n : run.throughput_frames) n = 6;
    run.throughput_warmup = 2;
    run.decode_frames = 10;
    run.decode_rounds = 1;
    run.zero_copy_rate_frames = 200;
    run.fanout_frames = 10;
    run.fanout_rate_frames = 20;
    run.memory_probe_frames = 3;
    return run;
}

std::string unique_segment_name(std::string_view tag) {
    static std::atomic<int> counter{0};
    return "fbbench-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

namespace {

// Removes the directory when the process that made it exits normally
// (children leave with _exit and never run this).
struct TempDir {
    std::string path;
    pid_t owner = ::getpid();
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "framebus-bench-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("framebus-bench: mkdtemp");
            std::exit(1);
        }
        path = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        if (::getpid() == owner) std::filesystem::remove_all(path, ignored);
    }
};

long futex(const std::atomic<std::uint32_t>* word, int op, std::uint32_t value,
           const timespec* timeout) {
    // No FUTEX_PRIVATE_FLAG: the word is in MAP_SHARED memory of two processes.
    return ::syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(word), op, value, timeout,
                     nullptr, 0);
}

bool reached(std::uint32_t value, std::uint32_t target) {
    return static_cast<std::int32_t>(value - target) >= 0;
}

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (::sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    return cpus;
}

const std::vector<int>& startup_cpus() {
    static const std::vector<int> cpus = allowed_cpus();
    return cpus;
}

}  // namespace

const std::string& temp_dir() {
    static TempDir dir;
    return dir.path;
}

void spin_for_ns(std::int64_t ns) {
    const std::int64_t until = now_ns() + ns;
    while (now_ns() < until) spin_hint();
}

SharedMemory::SharedMemory(std::size_t bytes) : size_(bytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<std::byte*>(p);  // zero-filled by the kernel
}

SharedMemory::~SharedMemory() {
    ::munmap(data_, size_);
}

SharedChannel::SharedChannel(std::size_t samples)
    : memory_(sizeof(Channel) + (samples + 1) * sizeof(std::int64_t)),
      channel_(new (memory_.data()) Channel()),
      samples_(reinterpret_cast<std::int64_t*>(memory_.data() + sizeof(Channel))),
      capacity_(samples) {}

bool SharedChannel::wait_acked(std::uint32_t receivers, std::uint32_t target,
                               std::int64_t spin_ns) const {
    for (std::uint32_t r = 0; r < receivers; ++r)
        if (!channel_->acked[r].wait_for(target, spin_ns)) return false;
    return true;
}

void SharedCounter::add(std::uint32_t n) {
    // seq_cst RMW then seq_cst load: pairs with wait_for()'s increment of
    // sleepers and its re-check, so a sleeper is either seen or sees us.
    value.fetch_add(n, std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) != 0) futex(&value, FUTEX_WAKE, INT_MAX, nullptr);
}

void SharedCounter::store(std::uint32_t v) {
    value.store(v, std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) != 0) futex(&value, FUTEX_WAKE, INT_MAX, nullptr);
}

bool SharedCounter::wait_for(std::uint32_t target, std::int64_t spin_ns,
                             std::chrono::milliseconds timeout) {
    const std::int64_t start = now_ns();
    const std::int64_t deadline =
        start + std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
    for (std::uint32_t n = 0;; ++n) {
        if (reached(value.load(std::memory_order_acquire), target)) return true;
        spin_hint();
        if ((n & 63) == 0 && now_ns() - start > spin_ns) break;
    }
    for (;;) {
        sleepers.fetch_add(1, std::memory_order_seq_cst);
        const std::uint32_t seen = value.load(std::memory_order_seq_cst);
        if (!reached(seen, target)) {
            const timespec slice{0, 10'000'000};  // re-check the deadline every 10 ms
            futex(&value, FUTEX_WAIT, seen, &slice);
        }
        sleepers.fetch_sub(1, std::memory_order_relaxed);
        if (reached(value.load(std::memory_order_acquire), target)) return true;
        if (now_ns() > deadline) return false;
    }
}

ChildProcess::ChildProcess(const std::function<int()>& body) {
    std::fflush(nullptr);  // nothing buffered may be written twice
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
        int code = 70;
        try {
            code = body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "framebus-bench: child: %s\n", e.what());
        }
        std::fflush(nullptr);
        ::_exit(code);
    }
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

int ChildProcess::wait(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            if (WIFEXITED(status)) return WEXITSTATUS(status);
            return -2;
        }
        if (r < 0 || std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
            return -1;
        }
        // Only after the measurement: nothing is timed while we poll here.
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

bool can_pin() {
    return startup_cpus().size() >= 2;
}
int writer_cpu() {
    return can_pin() ? startup_cpus()[0] : -1;
}
int receiver_cpu() {
    return can_pin() ? startup_cpus()[1] : -1;
}

void pin_this_thread(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)::sched_setaffinity(0, sizeof(set), &set);
}

ScopedPin::ScopedPin(int cpu) {
    static_assert(sizeof(saved_) >= sizeof(cpu_set_t));
    if (cpu < 0) return;
    auto* saved = reinterpret_cast<cpu_set_t*>(saved_);
    if (::sched_getaffinity(0, sizeof(cpu_set_t), saved) != 0) return;
    restore_ = true;
    pin_this_thread(cpu);
}

ScopedPin::~ScopedPin() {
    if (restore_)
        (void)::sched_setaffinity(0, sizeof(cpu_set_t), reinterpret_cast<cpu_set_t*>(saved_));
}

void fail(benchmark::State& state, const std::string& why) {
    state.SkipWithError(why.c_str());
}

bool reap(benchmark::State& state, ChildProcess& child, const char* role) {
    const int code = child.wait();
    if (code == 0) return true;
    fail(state,
         std::string(role) + " process " +
             (code == -1 ? "hung and was killed" : "failed with code " + std::to_string(code)));
    return false;
}

LatencySummary summarize(std::span<const std::int64_t> samples_ns) {
    LatencySummary s;
    if (samples_ns.empty()) return s;
    std::vector<std::int64_t> sorted(samples_ns.begin(), samples_ns.end());
    std::sort(sorted.begin(), sorted.end());
    auto at = [&](double q) {
        // Nearest rank: the smallest sample with at least q of them at or below it.
        const auto rank =
            static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
        return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]);
    };
    s.p50 = at(0.50);
    s.p99 = at(0.99);
    s.max = static_cast<double>(sorted.back());
    double total = 0;
    for (auto v : sorted) total += static_cast<double>(v);
    s.mean = total / static_cast<double>(sorted.size());
    s.samples = sorted.size();
    return s;
}

void set_latency_counters(benchmark::State& state, const LatencySummary& summary) {
    state.counters["p50_ns"] = summary.p50;
    state.counters["p99_ns"] = summary.p99;
    state.counters["max_ns"] = summary.max;
    state.counters["mean_ns"] = summary.mean;
    state.counters["samples"] = static_cast<double>(summary.samples);
}

double median_chunk_rate(std::span<const std::int64_t> send_ns, int chunks) {
    const std::size_t n = send_ns.size();
    const std::size_t per_chunk = n / static_cast<std::size_t>(chunks);
    auto rate = [&](std::size_t first, std::size_t last) {
        return static_cast<double>(last - first) /
               (static_cast<double>(send_ns[last] - send_ns[first]) * 1e-9);
    };
    if (per_chunk < 2) return n < 2 ? 0.0 : rate(0, n - 1);  // too few to split
    std::vector<double> rates;
    for (std::size_t first = 0; first + per_chunk < n; first += per_chunk)
        rates.push_back(rate(first, first + per_chunk));
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
}

std::uint64_t sum_words(const std::byte* data, std::size_t bytes) {
    std::uint64_t sum = 0;
    const std::size_t words = bytes / 8;
    for (std::size_t i = 0; i < words; ++i) {
        std::uint64_t w;
        std::memcpy(&w, data + i * 8, 8);
        sum += w;
    }
    for (std::size_t i = words * 8; i < bytes; ++i) sum += static_cast<std::uint8_t>(data[i]);
    return sum;
}

std::uint64_t expected_sum(std::uint8_t value, std::size_t bytes) {
    const std::uint64_t word = value * 0x0101010101010101ULL;
    return word * (bytes / 8) + static_cast<std::uint64_t>(value) * (bytes % 8);
}

void register_transport_benchmarks(const std::string& transport, const RunLengths& run,
                                   TransportLatency latency, TransportThroughput throughput) {
    for (std::size_t i = 0; i < kFrameSizeCount; ++i) {
        const FrameSize size = kFrameSizes[i];
        // Baseline frames take milliseconds: a short warm-up is plenty.
        const int latency_warmup = std::min(run.latency_warmup, 20);
        benchmark::RegisterBenchmark((transport + "_latency/" + size.label).c_str(),
                                     [=](benchmark::State& s) { latency(s, size, latency_warmup); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime()
            ->Iterations(run.baseline_latency_frames[i]);
        for (std::uint32_t readers : {1u, 4u}) {
            benchmark::RegisterBenchmark(
                (transport + "_throughput/" + size.label + "/readers_" + std::to_string(readers))
                    .c_str(),
                [=](benchmark::State& s) { throughput(s, size, readers, run.throughput_warmup); })
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime()
                ->Iterations(run.throughput_frames[i]);
        }
    }
}

std::optional<ThroughputTiming> run_windowed_sender(
    benchmark::State& state, SharedChannel& ch, std::uint32_t readers, std::uint32_t warmup,
    std::int64_t spin_ns, const std::function<bool(std::uint32_t sequence)>& send) {
    const std::uint32_t total = warmup + static_cast<std::uint32_t>(state.max_iterations);
    std::uint32_t sent = 0;
    auto send_next = [&] {
        if (sent >= kThroughputWindow && !ch.wait_acked(readers, sent - kThroughputWindow, spin_ns))
            return false;
        if (!send(sent + 1)) return false;
        ++sent;
        return true;
    };
    for (std::uint32_t k = 0; k < warmup; ++k)
        if (!send_next()) return fail(state, "sender failed during warm-up"), std::nullopt;
    if (!ch.wait_acked(readers, sent, spin_ns))
        return fail(state, "receivers stalled"), std::nullopt;
    ThroughputTiming timing;
    timing.send_ns.reserve(static_cast<std::size_t>(state.max_iterations));
    const std::int64_t start = now_ns();
    for (auto _ : state) {
        if (!send_next()) {
            fail(state, "sender failed (receivers stopped or stalled, or no free slot)");
            return std::nullopt;
        }
        timing.send_ns.push_back(now_ns());
        // The clock stops when the last frame has been read by every receiver.
        if (sent == total && !ch.wait_acked(readers, total, spin_ns)) {
            fail(state, "receivers did not finish");
            return std::nullopt;
        }
    }
    timing.elapsed_ns = now_ns() - start;
    return timing;
}

void set_throughput_counters(benchmark::State& state, std::size_t frame_bytes,
                             std::uint32_t readers, const ThroughputTiming& timing) {
    const auto frames = static_cast<std::int64_t>(timing.send_ns.size());
    state.SetBytesProcessed(frames * static_cast<std::int64_t>(frame_bytes) * readers);
    state.counters["fps"] = median_chunk_rate(timing.send_ns);
    state.counters["fps_overall"] =
        static_cast<double>(frames) / (static_cast<double>(timing.elapsed_ns) * 1e-9);
    state.counters["readers"] = readers;
}

}  // namespace framebus::bench
