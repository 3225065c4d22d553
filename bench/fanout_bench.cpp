// Many readers blocked in wait() on one writer: what a publish costs, how
// long the first and the last woken reader take, how fast the writer can
// go, and whether any reader is woken more than once per frame; with 1, 8,
// 16 and 64 readers (64 is the maximum) and with 16 of which 8 are stopped
// (SIGSTOP) inside their wait.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "segment_peek.hpp"
#include "zero_copy.hpp"

namespace framebus::bench {
namespace {

constexpr std::uint32_t kFanoutWarmup = 10;  // paced frames left out of the figures

long voluntary_switches() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return usage.ru_nvcsw;
}

// Times this thread was preempted: in the writer, by readers its wake made runnable.
long involuntary_switches() {
    rusage usage{};
    ::getrusage(RUSAGE_THREAD, &usage);
    return usage.ru_nivcsw;
}

// Until `count` readers sit in wait(), sleeping between looks: with up to
// 64 readers on few CPUs the writer must not take their CPU time.
bool wait_for_waiters(const WaitersPeek& peek, std::uint32_t count) {
    const std::int64_t deadline = now_ns() + 20'000'000'000;
    while (peek.waiters() < count) {
        if (now_ns() > deadline) return false;
        ::usleep(20);
    }
    spin_for_ns(kBlockedPauseNs);
    return true;
}

void fanout(benchmark::State& state, std::uint32_t readers, std::uint32_t stopped,
            std::uint32_t paced, std::uint32_t burst) {
    const std::string name = unique_segment_name("fan");
    const FrameSize size = kFrameSizes[0];
    const std::uint32_t running = readers - stopped;
    // Per reader: a latency per paced frame (by sequence), then its counts.
    const std::size_t counts_at = std::size_t{readers} * paced;
    SharedChannel ch(counts_at + 2 * std::size_t{readers});
    std::int64_t* samples = ch.samples();
    std::fill(samples, samples + counts_at, -1);
    std::vector<std::unique_ptr<ChildProcess>> processes;
    for (std::uint32_t r = 0; r < readers; ++r) {
        processes.push_back(std::make_unique<ChildProcess>([&, r] {
            if (!ch->go.wait_for(1, 0)) return 3;
            auto reader = Reader::open(name);
            if (!reader) return 4;
            ch->ready.add();
            const long switches_before = voluntary_switches();
            std::uint64_t last = 0;
            std::int64_t empty_wakes = 0;
            for (;;) {
                const WaitStatus status = reader->wait(std::chrono::seconds(30));
                if (status == WaitStatus::end_of_stream) break;
                if (status != WaitStatus::frame) return 5;
                auto lease = reader->latest();
                const std::int64_t leased_ns = now_ns();
                if (!lease) return 6;
                const std::uint64_t seq = lease->sequence();
                if (seq <= last) {
                    ++empty_wakes;
                    continue;
                }
                if (seq <= paced) {
                    samples[std::size_t{r} * paced + seq - 1] =
                        leased_ns - lease->info().publish_ns;
                    if (seq == paced)  // sleeps per paced frame: one wait, one sleep, one wake
                        samples[counts_at + 2 * r] = voluntary_switches() - switches_before;
                }
                last = seq;
                lease->release();
                if (seq <= paced) ch->acked[0].add();
            }
            samples[counts_at + 2 * r + 1] = empty_wakes;
            return 0;
        }));
    }
    ScopedPin pin(writer_cpu());
    WriterOptions options;
    options.name = name;
    options.max_readers = 64;
    options.initial_format = size.format();
    auto writer = Writer::create(options);
    if (!writer) return fail(state, writer.error().message);
    ch->go.store(1);
    if (!ch->ready.wait_for(readers, 0)) return fail(state, "readers did not attach");
    WaitersPeek peek(name);
    if (!wait_for_waiters(peek, readers)) return fail(state, "readers did not wait");
    // Stopped inside wait(): still counted as waiters, never acknowledging.
    for (std::uint32_t r = 0; r < stopped; ++r) ::kill(processes[r]->pid(), SIGSTOP);
    const FrameFormat format = size.format();
    // Publish split in two: acquire() (the slot choice, which reads every
    // reader's entry) and commit() (stores, then one FUTEX_WAKE of all sleepers).
    std::vector<std::int64_t> publish_ns, acquire_ns, commit_ns;
    long preempted = 0;
    for (std::uint32_t seq = 1; seq <= paced; ++seq) {
        if (!ch->acked[0].wait_for(running * (seq - 1), 0) || !wait_for_waiters(peek, readers))
            return fail(state, "readers stopped taking frames");
        const long preempted_before = involuntary_switches();
        const std::int64_t t0 = now_ns();
        auto slot = writer->acquire(format);
        const std::int64_t t1 = now_ns();
        if (!slot) return fail(state, slot.error().message);
        slot->commit();
        const std::int64_t t2 = now_ns();
        if (seq > kFanoutWarmup) {
            publish_ns.push_back(t2 - t0);
            acquire_ns.push_back(t1 - t0);
            commit_ns.push_back(t2 - t1);
            preempted += involuntary_switches() - preempted_before;
        }
    }
    if (!ch->acked[0].wait_for(running * paced, 0))
        return fail(state, "readers stopped taking frames");
    // Back to back: the writer's frame rate with every reader waking up.
    const std::int64_t burst_start = now_ns();
    for (std::uint32_t k = 0; k < burst; ++k) {
        auto slot = writer->acquire(format);
        if (!slot) return fail(state, slot.error().message);
        slot->commit();
    }
    const std::int64_t burst_ns = now_ns() - burst_start;
    writer->end_of_stream();
    for (std::uint32_t r = 0; r < stopped; ++r) ::kill(processes[r]->pid(), SIGCONT);
    for (auto& p : processes)
        if (!reap(state, *p, "reader")) return;
    for (auto _ : state) {
    }
    // First and last woken of the running readers, per frame.
    std::vector<std::int64_t> first, last;
    for (std::uint32_t seq = kFanoutWarmup + 1; seq <= paced; ++seq) {
        std::int64_t lo = INT64_MAX, hi = 0;
        for (std::uint32_t r = stopped; r < readers; ++r) {
            const std::int64_t v = samples[std::size_t{r} * paced + seq - 1];
            if (v < 0) return fail(state, "a running reader missed a paced frame");
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        first.push_back(lo);
        last.push_back(hi);
    }
    std::int64_t max_switches = 0, empty_wakes = 0;
    for (std::uint32_t r = stopped; r < readers; ++r) {
        max_switches = std::max(max_switches, samples[counts_at + 2 * r]);
        empty_wakes += samples[counts_at + 2 * r + 1];
    }
    const LatencySummary publish = summarize(publish_ns);
    const LatencySummary acquire = summarize(acquire_ns);
    const LatencySummary commit = summarize(commit_ns);
    const LatencySummary first_woken = summarize(first);
    const LatencySummary last_woken = summarize(last);
    state.counters["readers"] = readers;
    state.counters["stopped"] = stopped;
    state.counters["publish_p50_ns"] = publish.p50;
    state.counters["publish_p99_ns"] = publish.p99;
    state.counters["acquire_p50_ns"] = acquire.p50;
    state.counters["commit_p50_ns"] = commit.p50;
    // Preemptions of the writer inside publish, per frame: readers woken by
    // the FUTEX_WAKE taking the writer's CPU before the call returns.
    state.counters["writer_preempted_per_frame"] =
        publish_ns.empty() ? 0 : static_cast<double>(preempted) / publish_ns.size();
    state.counters["first_wake_p50_ns"] = first_woken.p50;
    state.counters["last_wake_p50_ns"] = last_woken.p50;
    state.counters["last_wake_p99_ns"] = last_woken.p99;
    state.counters["writer_fps"] = burst_ns > 0 ? burst * 1e9 / static_cast<double>(burst_ns) : 0;
    // Voluntary context switches per paced frame of the busiest reader: 1
    // means one sleep and one wake per frame; above 1, someone woke twice.
    state.counters["sleeps_per_frame_max"] = static_cast<double>(max_switches) / paced;
    state.counters["wakes_without_frame"] = static_cast<double>(empty_wakes);
    state.counters["samples"] = static_cast<double>(first.size());
}

}  // namespace

void register_fanout_benchmarks(const RunLengths& run) {
    struct Case {
        std::uint32_t readers, stopped;
    };
    for (const Case c : {Case{1, 0}, Case{8, 0}, Case{16, 0}, Case{64, 0}, Case{16, 8}}) {
        const std::string label = "bus_fanout/readers_" + std::to_string(c.readers) +
                                  (c.stopped > 0 ? "/stopped_" + std::to_string(c.stopped) : "");
        const auto paced = static_cast<std::uint32_t>(run.fanout_frames) + kFanoutWarmup;
        const auto burst = static_cast<std::uint32_t>(run.fanout_rate_frames);
        benchmark::RegisterBenchmark(
            label.c_str(),
            [=](benchmark::State& s) { fanout(s, c.readers, c.stopped, paced, burst); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Iterations(1);
    }
#ifdef FRAMEBUS_BENCH_HAVE_ICEORYX
    register_iceoryx_fanout_benchmarks(
        static_cast<std::uint32_t>(run.fanout_frames) + kFanoutWarmup, kFanoutWarmup);
#endif
}

}  // namespace framebus::bench
