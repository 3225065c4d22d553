// What every benchmark suite shares: frame sizes, run lengths (full or
// smoke), shared memory between forked processes, a futex counter for
// pacing, CPU pinning, latency summaries.
#pragma once

#include <sys/types.h>

#include <benchmark/benchmark.h>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/frame.hpp"

namespace framebus::bench {

struct FrameSize {
    std::uint32_t width;
    std::uint32_t height;
    const char* label;  // "1920x1080": the column key of the report
    [[nodiscard]] FrameFormat format() const {
        return FrameFormat::packed(width, height, PixelFormat::bgr24);
    }
    [[nodiscard]] std::uint64_t bytes() const { return format().bytes(); }
};

inline constexpr FrameSize kFrameSizes[] = {
    {640, 480, "640x480"},
    {1920, 1080, "1920x1080"},
    {3840, 2160, "3840x2160"},
};
inline constexpr std::size_t kFrameSizeCount = std::size(kFrameSizes);

// How long each suite runs. Smoke: a handful of frames, to prove the
// programs start and the report is produced.
struct RunLengths {
    bool smoke = false;
    int repetitions = 3;          // short in-process loops: median of these
    double min_time_s = 0.2;      // per repetition of those loops
    int latency_frames = 10'000;  // framebus and floors, per case
    int latency_warmup = 200;     // frames before recording starts
    int blocked_publish_frames = 2'000;
    int pingpong_round_trips = 200'000;
    int baseline_latency_frames[kFrameSizeCount] = {2'000, 600, 200};  // pipe, ZeroMQ
    int throughput_frames[kFrameSizeCount] = {3'000, 500, 120};
    int throughput_warmup = 12;           // > slots: every slot written and mapped once
    int decode_frames = 300;              // length of the generated video
    int decode_rounds = 5;                // plain/bus pairs, interleaved
    int zero_copy_rate_frames = 200'000;  // framebus and iceoryx at full speed, per size
    int fanout_frames = 1'000;            // paced frames per many-readers case
    int fanout_rate_frames = 3'000;       // back-to-back frames per many-readers case
    int memory_probe_frames = 20;         // frames a reader leases before its memory is read
};

[[nodiscard]] RunLengths full_run();
[[nodiscard]] RunLengths smoke_run();

// Frames a writer may run ahead of its slowest receiver in throughput runs
// (every transport gets the same window; framebus needs slots > window + readers).
inline constexpr std::uint32_t kThroughputWindow = 4;
// Pause before each latency frame so the receiver is surely asleep (blocking
// cases) or spinning in its poll loop (polling cases).
inline constexpr std::int64_t kBlockedPauseNs = 20'000;
inline constexpr std::int64_t kPollPauseNs = 2'000;

// "fbbench-<tag>-<pid>-<n>": a fresh segment name per benchmark run.
[[nodiscard]] std::string unique_segment_name(std::string_view tag);
// A private temporary directory for this run (ipc sockets, the video file);
// removed at exit by the process that created it.
[[nodiscard]] const std::string& temp_dir();

inline void spin_hint() {
    __builtin_ia32_pause();
}
// Busy-waits `ns` nanoseconds (no sleep: a sleep would let the CPU idle down).
void spin_for_ns(std::int64_t ns);

// Anonymous MAP_SHARED memory: stays shared with children forked after it.
class SharedMemory {
  public:
    explicit SharedMemory(std::size_t bytes);
    ~SharedMemory();
    SharedMemory(const SharedMemory&) = delete;
    SharedMemory& operator=(const SharedMemory&) = delete;
    [[nodiscard]] std::byte* data() const { return data_; }
    [[nodiscard]] std::size_t size() const { return size_; }

  private:
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

// A 32-bit counter in shared memory that one process advances and another
// waits on: spins for a while, then sleeps on a non-private futex.
struct alignas(64) SharedCounter {
    std::atomic<std::uint32_t> value{0};
    std::atomic<std::uint32_t> sleepers{0};

    void add(std::uint32_t n = 1);
    void store(std::uint32_t v);
    [[nodiscard]] std::uint32_t load() const { return value.load(std::memory_order_acquire); }
    // Until value >= target (wrapping compare). False after `timeout`.
    [[nodiscard]] bool wait_for(std::uint32_t target, std::int64_t spin_ns,
                                std::chrono::milliseconds timeout = std::chrono::seconds(20));
};
static_assert(sizeof(SharedCounter) == 64);

// A forked child running `body`; its return value is the exit code. The
// child leaves with _exit(): no static destructors, no stdio flush of ours.
class ChildProcess {
  public:
    explicit ChildProcess(const std::function<int()>& body);
    ~ChildProcess();  // SIGKILLs and reaps a child still running
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    // Exit code, or -1 if it had to be killed after `timeout`, -2 if killed by a signal.
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    [[nodiscard]] pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
};

// The control block of a two-process (or 1 + N) measurement, in shared
// memory: start/ready handshakes, per-receiver acknowledgements for pacing,
// results, and room for one latency sample per frame after it.
inline constexpr std::uint32_t kMaxReceivers = 4;
struct Channel {
    SharedCounter go;     // sender -> receivers: the transport is set up
    SharedCounter ready;  // receivers -> sender: each adds 1 once attached
    SharedCounter armed;  // receiver -> sender: about to block for frame n (stores n + 1)
    SharedCounter acked[kMaxReceivers];  // receiver r -> sender: frames finished
    alignas(64) std::atomic<std::uint32_t> stop{0};
    std::atomic<std::uint64_t> checksum_ok[kMaxReceivers];  // 1: every frame summed as sent
    std::atomic<std::uint64_t> skipped[kMaxReceivers];
};

class SharedChannel {
  public:
    explicit SharedChannel(std::size_t samples);
    Channel* operator->() const { return channel_; }
    [[nodiscard]] std::int64_t* samples() const { return samples_; }
    [[nodiscard]] std::size_t capacity() const { return capacity_; }
    // Until every one of the first `receivers` acknowledged `target` frames.
    [[nodiscard]] bool wait_acked(std::uint32_t receivers, std::uint32_t target,
                                  std::int64_t spin_ns) const;

  private:
    SharedMemory memory_;
    Channel* channel_;
    std::int64_t* samples_;
    std::size_t capacity_;
};

// The two CPUs writer and receiver are pinned to, if the machine has two.
[[nodiscard]] bool can_pin();
[[nodiscard]] int writer_cpu();
[[nodiscard]] int receiver_cpu();
void pin_this_thread(int cpu);  // no-op when pinning is not possible

// Pins the calling thread for its lifetime, then restores the old affinity
// (threads gbench starts later inherit it).
class ScopedPin {
  public:
    explicit ScopedPin(int cpu);
    ~ScopedPin();
    ScopedPin(const ScopedPin&) = delete;
    ScopedPin& operator=(const ScopedPin&) = delete;

  private:
    bool restore_ = false;
    unsigned char saved_[128] = {};  // a cpu_set_t, kept opaque here
};

// Marks the run failed (the report shows the message; --smoke fails on it).
void fail(benchmark::State& state, const std::string& why);
// Collects a child's exit; false (and the run failed) unless it exited 0.
bool reap(benchmark::State& state, ChildProcess& child, const char* role);

struct LatencySummary {
    double p50 = 0, p99 = 0, max = 0, mean = 0;
    std::size_t samples = 0;
};
[[nodiscard]] LatencySummary summarize(std::span<const std::int64_t> samples_ns);
// p50_ns, p99_ns, max_ns, mean_ns, samples counters.
void set_latency_counters(benchmark::State& state, const LatencySummary& summary);

// Frames per second of a throughput run from the time each frame was sent:
// the median over `chunks` equal runs of frames, so a burst of preemption
// by other processes moves one chunk, not the figure.
[[nodiscard]] double median_chunk_rate(std::span<const std::int64_t> send_ns, int chunks = 10);

// Sum of the frame as 64-bit words: reads every byte, vectorises, and lets
// the receiver check it got what was sent.
[[nodiscard]] std::uint64_t sum_words(const std::byte* data, std::size_t bytes);
// What sum_words() gives for a frame memset() to `value`.
[[nodiscard]] std::uint64_t expected_sum(std::uint8_t value, std::size_t bytes);
// The fill value of frame k in throughput runs.
[[nodiscard]] inline std::uint8_t fill_value(std::uint64_t k) {
    return static_cast<std::uint8_t>(k * 37 + 1);
}

// Registration of each suite (main decides the run lengths and the order).
void register_bus_cost_benchmarks(const RunLengths& run);  // publish, lease
void register_bus_latency_benchmark(const RunLengths& run, std::size_t size_index, bool polling);
void register_bus_throughput_benchmarks(const RunLengths& run);
void register_floor_futex_benchmark(const RunLengths& run, std::size_t size_index);
void register_floor_cacheline_benchmarks(const RunLengths& run, std::size_t size_index);
void register_copy_benchmarks(const RunLengths& run);  // clock read, memcpy
// The sending half of every throughput benchmark, bus and baselines alike, so
// all are measured the same way. `send(sequence)` ships frame `sequence`
// (from 1) to every receiver. The sender stays at most kThroughputWindow
// frames ahead of the slowest receiver; after `warmup` frames the clock runs
// until every receiver has acknowledged the last one. nullopt: the state has
// failed, saying why.
struct ThroughputTiming {
    std::vector<std::int64_t> send_ns;
    std::int64_t elapsed_ns = 0;
};
[[nodiscard]] std::optional<ThroughputTiming> run_windowed_sender(
    benchmark::State& state, SharedChannel& ch, std::uint32_t readers, std::uint32_t warmup,
    std::int64_t spin_ns, const std::function<bool(std::uint32_t sequence)>& send);
void set_throughput_counters(benchmark::State& state, std::size_t frame_bytes,
                             std::uint32_t readers, const ThroughputTiming& timing);

void register_pipe_benchmarks(const RunLengths& run);
// A copying baseline's latency and throughput (1 and 4 readers) per frame size,
// registered the same way for every transport so their rows line up.
using TransportLatency = void (*)(benchmark::State&, FrameSize, int warmup_frames);
using TransportThroughput = void (*)(benchmark::State&, FrameSize, std::uint32_t readers,
                                     int warmup_frames);
void register_transport_benchmarks(const std::string& transport, const RunLengths& run,
                                   TransportLatency latency, TransportThroughput throughput);
void register_zmq_benchmarks(const RunLengths& run);     // built only with libzmq
void register_decode_benchmarks(const RunLengths& run);  // built only with OpenCV
// framebus and iceoryx (if built and iox-roudi is in PATH) side by side.
void register_zero_copy_benchmarks(const RunLengths& run);
// Many blocked readers (1, 8, 16, 64; 16 with 8 SIGSTOPped).
void register_fanout_benchmarks(const RunLengths& run);
// A reader process's memory (the program itself, exec'd with --memory-probe).
void register_memory_benchmarks(const RunLengths& run);
// The reader side of the memory benchmark: prints its smaps_rollup figures.
int memory_probe(const std::string& segment, int frames);

}  // namespace framebus::bench
