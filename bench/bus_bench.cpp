// framebus itself: publish cost, lease cost, cross-process latency (blocked
// and polling reader), throughput with every byte written and read.
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "framebus/layout.hpp"
#include "framebus/name.hpp"
#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "segment_peek.hpp"

namespace framebus::bench {
namespace {

WriterOptions writer_options(const std::string& name, const FrameSize& size) {
    WriterOptions options;
    options.name = name;
    options.max_readers = 8;  // the default of framebus-writer; slots = 8 * 2 + 2 = 18
    options.initial_format = size.format();
    return options;
}

bool publish_one(Writer& writer, const FrameFormat& format) {
    auto slot = writer.acquire(format);
    if (!slot) return false;
    slot->commit();
    return true;
}

std::int64_t thread_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// ---- publish cost ------------------------------------------------------------

// acquire + commit, pixels untouched, with `readers` Reader objects attached
// and idle (no lease, nobody waiting): commit makes no system call.
void publish_idle(benchmark::State& state, FrameSize size, int readers) {
    const std::string name = unique_segment_name("pub");
    auto writer = Writer::create(writer_options(name, size));
    if (!writer) return fail(state, writer.error().message);
    std::vector<Reader> attached;
    for (int r = 0; r < readers; ++r) {
        auto reader = Reader::open(name);
        if (!reader) return fail(state, reader.error().message);
        attached.push_back(std::move(*reader));
    }
    const FrameFormat format = size.format();
    if (!publish_one(*writer, format)) return fail(state, "first publish failed");
    for (auto _ : state) {
        auto slot = writer->acquire(format);
        if (!slot) {
            fail(state, slot.error().message);
            break;
        }
        slot->commit();
    }
    state.counters["readers"] = readers;
}

// acquire + commit while one reader process is blocked in Reader::wait():
// commit pays the futex wake. Timed per frame, only around acquire + commit.
void publish_blocked(benchmark::State& state, FrameSize size, int warmup) {
    const std::string name = unique_segment_name("pubw");
    SharedChannel ch(0);
    ChildProcess reader_process([&] {
        pin_this_thread(receiver_cpu());
        if (!ch->go.wait_for(1, 0)) return 3;
        auto reader = Reader::open(name);
        if (!reader) return 4;
        ch->ready.add();
        for (;;) {
            const WaitStatus status = reader->wait(std::chrono::seconds(10));
            if (status == WaitStatus::end_of_stream) return 0;
            if (status != WaitStatus::frame) return 5;
            if (!reader->latest()) return 6;  // leased and released at once
            ch->acked[0].add();
        }
    });
    ScopedPin pin(writer_cpu());
    auto writer = Writer::create(writer_options(name, size));
    if (!writer) return fail(state, writer.error().message);
    ch->go.store(1);
    if (!ch->ready.wait_for(1, 0)) return fail(state, "reader did not attach");
    WaitersPeek peek(name);
    const FrameFormat format = size.format();
    std::uint32_t sent = 0;
    // The reader has taken the previous frame and sleeps again; then time.
    auto paced_publish = [&]() -> std::optional<std::int64_t> {
        if (!ch->acked[0].wait_for(sent, 1'000'000) || !peek.wait_for_sleeper())
            return std::nullopt;
        const std::int64_t t0 = now_ns();
        auto slot = writer->acquire(format);
        if (!slot) return std::nullopt;
        slot->commit();
        const std::int64_t t1 = now_ns();
        ++sent;
        return t1 - t0;
    };
    for (int k = 0; k < warmup; ++k)
        if (!paced_publish()) return fail(state, "reader stopped taking frames");
    std::vector<std::int64_t> publish_ns;
    publish_ns.reserve(static_cast<std::size_t>(state.max_iterations));
    for (auto _ : state) {
        const auto ns = paced_publish();
        if (!ns) {
            fail(state, "reader stopped taking frames");
            break;
        }
        state.SetIterationTime(static_cast<double>(*ns) * 1e-9);
        publish_ns.push_back(*ns);
    }
    (void)ch->acked[0].wait_for(sent, 1'000'000);
    writer->close();
    if (!reap(state, reader_process, "reader")) return;
    // The mean (gbench's time) carries every preemption; the report shows p50.
    set_latency_counters(state, summarize(publish_ns));
}

// ---- lease cost --------------------------------------------------------------

// One writer per frame size for the lease benchmarks, made by Setup (which
// runs once before gbench starts the reader threads).
struct LeaseSegment {
    std::string name;
    std::optional<Writer> writer;
};
std::array<LeaseSegment, kFrameSizeCount> g_lease_segments;

template <std::size_t I>
void lease_setup(const benchmark::State&) {
    LeaseSegment& s = g_lease_segments[I];
    s.name = unique_segment_name("lease");
    auto writer = Writer::create(writer_options(s.name, kFrameSizes[I]));
    if (!writer) return;  // the readers fail to open and say so
    if (publish_one(*writer, kFrameSizes[I].format())) s.writer = std::move(*writer);
}

template <std::size_t I>
void lease_teardown(const benchmark::State&) {
    g_lease_segments[I].writer.reset();
}

using SetupFn = void (*)(const benchmark::State&);
static_assert(kFrameSizeCount == 3);
constexpr SetupFn kLeaseSetup[] = {&lease_setup<0>, &lease_setup<1>, &lease_setup<2>};
constexpr SetupFn kLeaseTeardown[] = {&lease_teardown<0>, &lease_teardown<1>, &lease_teardown<2>};

// latest() + release on an existing frame; every thread has its own Reader.
void lease(benchmark::State& state, std::size_t size_index) {
    auto reader = Reader::open(g_lease_segments[size_index].name);
    if (!reader) return fail(state, reader.error().message);
    const std::int64_t cpu_start = thread_cpu_ns();
    for (auto _ : state) {
        auto lease = reader->latest();
        if (!lease) {
            fail(state, lease.error().message);
            break;
        }
        lease->release();
    }
    // Summed over threads by gbench: the report divides one by the other.
    state.counters["thread_cpu_ns"] = static_cast<double>(thread_cpu_ns() - cpu_start);
    state.counters["leases"] = static_cast<double>(state.iterations());
}

// ---- cross-process latency ---------------------------------------------------

// wake: blocked in wait(); poll: spinning on latest_sequence(); spin: the
// adaptive wait (ReaderOptions::spin = kAdaptiveSpin), frames coming
// kAdaptivePauseNs after the previous one was taken, i.e. within the spin.
enum class ReaderMode { wake, poll, spin };
constexpr std::chrono::microseconds kAdaptiveSpin{200};
constexpr std::int64_t kAdaptivePauseNs = 20'000;

const char* to_string(ReaderMode mode) {
    return mode == ReaderMode::wake ? "wake" : mode == ReaderMode::poll ? "poll" : "spin";
}

// Writer process commits (publish_ns = now_ns() inside commit); the reader
// process, blocked in wait() or spinning on latest_sequence(), leases the
// frame: latency = now_ns() at the lease - publish_ns. One frame in flight:
// the writer waits for the reader's acknowledgement before the next. The
// reader's CPU time over the measured frames is reported beside it.
void latency(benchmark::State& state, FrameSize size, ReaderMode mode, int warmup) {
    const auto frames = static_cast<std::uint32_t>(state.max_iterations);
    const std::uint32_t total = frames + static_cast<std::uint32_t>(warmup);
    const std::string name = unique_segment_name("lat");
    SharedChannel ch(total + 2);  // + the reader's CPU and wall time
    ChildProcess reader_process([&] {
        pin_this_thread(receiver_cpu());
        if (!ch->go.wait_for(1, 0)) return 3;
        ReaderOptions options;
        if (mode == ReaderMode::spin) options.spin = kAdaptiveSpin;
        auto reader = Reader::open(name, options);
        if (!reader) return 4;
        ch->ready.add();
        std::uint64_t last = 0;
        std::int64_t cpu_start = 0, wall_start = 0;
        for (std::uint32_t n = 0; n < total; ++n) {
            if (n == static_cast<std::uint32_t>(warmup)) {
                cpu_start = thread_cpu_ns();
                wall_start = now_ns();
            }
            if (mode != ReaderMode::poll) {
                if (reader->wait(std::chrono::seconds(10)) != WaitStatus::frame) return 5;
            } else {
                for (std::uint32_t spins = 1; reader->latest_sequence() <= last; ++spins) {
                    spin_hint();
                    if ((spins & 0xfff) == 0 && ch->stop.load(std::memory_order_relaxed)) return 5;
                }
            }
            auto lease = reader->latest();
            const std::int64_t leased_ns = now_ns();
            if (!lease) return 6;
            ch.samples()[n] = leased_ns - lease->info().publish_ns;
            last = lease->sequence();
            lease->release();
            ch->acked[0].add();
        }
        ch.samples()[total] = thread_cpu_ns() - cpu_start;
        ch.samples()[total + 1] = now_ns() - wall_start;
        return 0;
    });
    ScopedPin pin(writer_cpu());
    auto writer = Writer::create(writer_options(name, size));
    if (!writer) return fail(state, writer.error().message);
    ch->go.store(1);
    if (!ch->ready.wait_for(1, 0)) return fail(state, "reader did not attach");
    WaitersPeek peek(name);
    const FrameFormat format = size.format();
    std::uint32_t sent = 0;
    auto paced_publish = [&] {
        if (!ch->acked[0].wait_for(sent, 1'000'000)) return false;
        if (mode == ReaderMode::wake) {
            if (!peek.wait_for_sleeper()) return false;
        } else {
            spin_for_ns(mode == ReaderMode::poll ? kPollPauseNs : kAdaptivePauseNs);
        }
        ++sent;
        return publish_one(*writer, format);
    };
    for (int k = 0; k < warmup; ++k)
        if (!paced_publish()) return fail(state, "reader stopped taking frames");
    for (auto _ : state) {
        if (!paced_publish()) {
            fail(state, "reader stopped taking frames");
            break;
        }
    }
    const bool all_taken = ch->acked[0].wait_for(total, 1'000'000);
    ch->stop.store(1);
    writer->close();
    if (!reap(state, reader_process, "reader") || !all_taken) return;
    set_latency_counters(state, summarize({ch.samples() + warmup, frames}));
    const auto cpu = static_cast<double>(ch.samples()[total]);
    const auto wall = static_cast<double>(ch.samples()[total + 1]);
    state.counters["reader_cpu_pct"] = wall > 0 ? 100 * cpu / wall : 0;
    state.counters["reader_cpu_per_frame_ns"] = cpu / frames;
}

// ---- throughput ----------------------------------------------------------------

// The writer fills every byte of each frame, readers (next(): every frame, in
// order) sum every byte. The writer stays at most kThroughputWindow frames
// ahead of the slowest reader, so nothing is dropped or skipped.
void throughput(benchmark::State& state, FrameSize size, std::uint32_t readers, int warmup_frames) {
    const auto frames = static_cast<std::uint32_t>(state.max_iterations);
    const auto warmup = static_cast<std::uint32_t>(warmup_frames);
    const std::uint32_t total = warmup + frames;
    const std::uint64_t bytes = size.bytes();
    const std::string name = unique_segment_name("thr");
    SharedChannel ch(0);
    std::vector<std::unique_ptr<ChildProcess>> reader_processes;
    for (std::uint32_t r = 0; r < readers; ++r) {
        reader_processes.push_back(std::make_unique<ChildProcess>([&, r] {
            pin_this_thread(readers == 1 ? receiver_cpu() : -1);
            if (!ch->go.wait_for(1, 0)) return 3;
            auto reader = Reader::open(name);
            if (!reader) return 4;
            ch->ready.add();
            std::uint64_t sum = 0;
            std::uint64_t expected = 0;
            for (std::uint32_t got = 0; got < total;) {
                if (reader->wait(std::chrono::seconds(10)) != WaitStatus::frame) return 5;
                for (;;) {
                    auto lease = reader->next();
                    if (!lease) break;  // no_frame: wait again
                    sum += sum_words(lease->data(), lease->format().bytes());
                    expected += expected_sum(fill_value(lease->sequence()), bytes);
                    lease->release();
                    ++got;
                    ch->acked[r].add();
                }
            }
            ch->checksum_ok[r].store(sum == expected ? 1 : 0);
            ch->skipped[r].store(reader->skipped());
            return 0;
        }));
    }
    std::optional<ScopedPin> pin;
    if (readers == 1) pin.emplace(writer_cpu());
    auto writer = Writer::create(writer_options(name, size));
    if (!writer) return fail(state, writer.error().message);
    ch->go.store(1);
    if (!ch->ready.wait_for(readers, 0)) return fail(state, "readers did not attach");
    const FrameFormat format = size.format();
    const std::int64_t spin_ns = readers == 1 ? 50'000 : 2'000;
    auto timing = run_windowed_sender(state, ch, readers, warmup, spin_ns, [&](std::uint32_t) {
        auto slot = writer->acquire(format);  // its sequence is the one asked for
        if (!slot) return false;
        std::memset(slot->data(), fill_value(slot->sequence()), bytes);
        slot->commit();
        return true;
    });
    writer->close();
    for (auto& p : reader_processes)
        if (!reap(state, *p, "reader")) return;
    if (!timing) return;
    for (std::uint32_t r = 0; r < readers; ++r) {
        if (ch->checksum_ok[r].load() != 1) return fail(state, "a reader got wrong bytes");
        if (ch->skipped[r].load() != 0) return fail(state, "a reader skipped frames");
    }
    set_throughput_counters(state, bytes, readers, *timing);
}

}  // namespace

void register_bus_cost_benchmarks(const RunLengths& run) {
    for (const FrameSize& size : kFrameSizes) {
        const std::string at = std::string("/") + size.label;
        for (int readers : {0, 1, 8}) {
            benchmark::RegisterBenchmark(
                ("bus_publish" + at + "/idle_readers_" + std::to_string(readers)).c_str(),
                [=](benchmark::State& s) { publish_idle(s, size, readers); })
                ->Unit(benchmark::kNanosecond)
                ->MinTime(run.min_time_s)
                ->Repetitions(run.repetitions)
                ->ReportAggregatesOnly(run.repetitions > 1);
        }
        benchmark::RegisterBenchmark(
            ("bus_publish" + at + "/blocked_reader").c_str(),
            [=](benchmark::State& s) { publish_blocked(s, size, run.latency_warmup); })
            ->Unit(benchmark::kNanosecond)
            ->UseManualTime()
            ->Iterations(run.blocked_publish_frames);
    }
    for (std::size_t i = 0; i < kFrameSizeCount; ++i) {
        const std::string at = std::string("/") + kFrameSizes[i].label;
        for (int threads : {1, 8}) {
            benchmark::RegisterBenchmark(
                ("bus_lease" + at + (threads == 1 ? "/one_reader" : "/reader_threads")).c_str(),
                [=](benchmark::State& s) { lease(s, i); })
                ->Setup(kLeaseSetup[i])
                ->Teardown(kLeaseTeardown[i])
                ->Threads(threads)
                ->Unit(benchmark::kNanosecond)
                ->MinTime(run.min_time_s)
                ->Repetitions(run.repetitions)
                ->ReportAggregatesOnly(run.repetitions > 1);
        }
    }
}

void register_bus_latency_benchmark(const RunLengths& run, std::size_t size_index, bool polling) {
    const FrameSize size = kFrameSizes[size_index];
    // The adaptive wait right after the busy-poll it should come near.
    for (ReaderMode mode :
         polling ? std::vector{ReaderMode::poll, ReaderMode::spin} : std::vector{ReaderMode::wake})
        benchmark::RegisterBenchmark(
            ("bus_latency/" + std::string(size.label) + "/" + to_string(mode)).c_str(),
            [=](benchmark::State& s) { latency(s, size, mode, run.latency_warmup); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime()
            ->Iterations(run.latency_frames);
}

void register_bus_throughput_benchmarks(const RunLengths& run) {
    for (std::size_t i = 0; i < kFrameSizeCount; ++i) {
        const FrameSize size = kFrameSizes[i];
        for (std::uint32_t readers : {1u, 4u}) {
            benchmark::RegisterBenchmark(
                ("bus_throughput/" + std::string(size.label) + "/readers_" +
                 std::to_string(readers))
                    .c_str(),
                [=](benchmark::State& s) { throughput(s, size, readers, run.throughput_warmup); })
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime()
                ->Iterations(run.throughput_frames[i]);
        }
    }
}

}  // namespace framebus::bench
