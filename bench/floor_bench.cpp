// The physical floors a frame handoff cannot beat, measured the way the bus
// is measured: a cache line moving between two processes (the floor of a
// polling reader), a bare futex wake between two processes (the floor of a
// blocked reader), plus the cost of reading the clock and of one memcpy of
// the frame (what any copying transport pays at least once).
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <memory>
#include <vector>

#include "bench_support.hpp"

namespace framebus::bench {
namespace {

struct alignas(64) Line {
    std::atomic<std::uint64_t> value{0};
    std::atomic<std::int64_t> stamp_ns{0};
};

struct PingPong {
    Line line;  // the one line that moves back and forth
};

// Ping-pong on one 64-byte line: the parent writes an odd value, the child
// answers with the next even one. One way = round trip / 2, from the median
// batch of 100 round trips (a preempted batch does not drag the figure).
void cacheline_pingpong(benchmark::State& state) {
    constexpr std::uint64_t kStop = ~std::uint64_t{0};
    SharedMemory memory(sizeof(PingPong));
    auto* pp = new (memory.data()) PingPong();
    ChildProcess child([&] {
        pin_this_thread(receiver_cpu());
        for (std::uint64_t expect = 1;; expect += 2) {
            std::uint64_t v;
            // acquire/release: pairs with the parent's release store / acquire load.
            while ((v = pp->line.value.load(std::memory_order_acquire)) != expect) {
                if (v == kStop) return 0;
                spin_hint();
            }
            pp->line.value.store(expect + 1, std::memory_order_release);
        }
    });
    ScopedPin pin(writer_cpu());
    std::uint64_t next = 1;
    auto round_trip = [&] {
        pp->line.value.store(next, std::memory_order_release);
        while (pp->line.value.load(std::memory_order_acquire) != next + 1) spin_hint();
        next += 2;
    };
    for (int k = 0; k < 1000; ++k) round_trip();
    constexpr int kBatch = 100;
    std::vector<std::int64_t> batches;
    batches.reserve(static_cast<std::size_t>(state.max_iterations / kBatch + 1));
    std::int64_t batch_start = now_ns();
    int in_batch = 0;
    for (auto _ : state) {
        round_trip();
        if (++in_batch == kBatch) {
            const std::int64_t t = now_ns();
            batches.push_back(t - batch_start);
            batch_start = t;
            in_batch = 0;
        }
    }
    pp->line.value.store(kStop, std::memory_order_release);
    if (!reap(state, child, "ping-pong")) return;
    if (batches.empty()) return fail(state, "fewer round trips than one batch");
    state.counters["one_way_ns"] = summarize(batches).p50 / kBatch / 2.0;
}

struct Stamped {
    Line line;      // sequence + send stamp: sender -> receiver
    Line ack_line;  // receiver -> sender
};

// The same line handoff measured like the polling reader: the sender stamps
// now_ns() into the line with the sequence, the spinning receiver takes
// now_ns() when it sees it. Paced (one in flight), with the same pause.
void cacheline_stamped(benchmark::State& state, int warmup) {
    const auto frames = static_cast<std::uint32_t>(state.max_iterations);
    const std::uint32_t total = frames + static_cast<std::uint32_t>(warmup);
    SharedChannel ch(total);
    SharedMemory memory(sizeof(Stamped));
    auto* s = new (memory.data()) Stamped();
    ChildProcess child([&] {
        pin_this_thread(receiver_cpu());
        for (std::uint32_t n = 1; n <= total; ++n) {
            // acquire: pairs with the sender's release of the sequence; the
            // stamp written before it is visible.
            for (std::uint32_t spins = 1; s->line.value.load(std::memory_order_acquire) != n;
                 ++spins) {
                spin_hint();
                if ((spins & 0xfff) == 0 && ch->stop.load(std::memory_order_relaxed)) return 5;
            }
            const std::int64_t seen_ns = now_ns();
            ch.samples()[n - 1] = seen_ns - s->line.stamp_ns.load(std::memory_order_relaxed);
            s->ack_line.value.store(n, std::memory_order_release);
        }
        return 0;
    });
    ScopedPin pin(writer_cpu());
    std::uint32_t sent = 0;
    auto acked = [&](std::uint64_t n) {
        const std::int64_t deadline = now_ns() + 10'000'000'000;
        while (s->ack_line.value.load(std::memory_order_acquire) != n) {
            spin_hint();
            if (now_ns() > deadline) return false;
        }
        return true;
    };
    auto send = [&] {
        if (!acked(sent)) return false;
        spin_for_ns(kPollPauseNs);
        ++sent;
        s->line.stamp_ns.store(now_ns(), std::memory_order_relaxed);
        s->line.value.store(sent, std::memory_order_release);  // pairs with the receiver's acquire
        return true;
    };
    for (int k = 0; k < warmup; ++k)
        if (!send()) return fail(state, "receiver stopped");
    for (auto _ : state) {
        if (!send()) {
            fail(state, "receiver stopped");
            break;
        }
    }
    const bool all_taken = acked(total);
    ch->stop.store(1);
    if (!reap(state, child, "receiver") || !all_taken) return;
    set_latency_counters(state, summarize({ch.samples() + warmup, frames}));
}

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value) {
    // Non-private: the word is in MAP_SHARED memory of two processes.
    return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, value, nullptr, nullptr,
                     0);
}

struct FutexShared {
    alignas(64) std::atomic<std::uint32_t> word{0};
    std::atomic<std::int64_t> stamp_ns{0};
};

// A bare cross-process futex wake: the waiter sleeps in FUTEX_WAIT on a shared
// word; the waker stamps now_ns(), bumps the word and calls FUTEX_WAKE; the
// waiter takes now_ns() when it is back. Paced like the blocked reader: the
// waker waits until the waiter announced it is going to sleep, then 20 us.
void futex_wake(benchmark::State& state, int warmup) {
    const auto frames = static_cast<std::uint32_t>(state.max_iterations);
    const std::uint32_t total = frames + static_cast<std::uint32_t>(warmup);
    SharedChannel ch(total);
    SharedMemory memory(sizeof(FutexShared));
    auto* f = new (memory.data()) FutexShared();
    ChildProcess child([&] {
        pin_this_thread(receiver_cpu());
        for (std::uint32_t n = 1; n <= total; ++n) {
            ch->armed.store(n);
            std::uint32_t w;
            // acquire: pairs with the waker's release increment.
            while ((w = f->word.load(std::memory_order_acquire)) != n) {
                futex(&f->word, FUTEX_WAIT, w);
                if (ch->stop.load(std::memory_order_relaxed)) return 5;
            }
            const std::int64_t woke_ns = now_ns();
            ch.samples()[n - 1] = woke_ns - f->stamp_ns.load(std::memory_order_relaxed);
            ch->acked[0].add();
        }
        return 0;
    });
    ScopedPin pin(writer_cpu());
    std::uint32_t sent = 0;
    std::vector<std::int64_t> wake_call_ns(total);  // what FUTEX_WAKE costs the waker
    auto wake = [&] {
        if (!ch->acked[0].wait_for(sent, 1'000'000) || !ch->armed.wait_for(sent + 1, 1'000'000))
            return false;
        spin_for_ns(kBlockedPauseNs);
        const std::int64_t stamp = now_ns();
        f->stamp_ns.store(stamp, std::memory_order_relaxed);
        f->word.fetch_add(1, std::memory_order_release);
        futex(&f->word, FUTEX_WAKE, INT_MAX);
        wake_call_ns[sent] = now_ns() - stamp;
        ++sent;
        return true;
    };
    for (int k = 0; k < warmup; ++k)
        if (!wake()) return fail(state, "waiter stopped");
    for (auto _ : state) {
        if (!wake()) {
            fail(state, "waiter stopped");
            break;
        }
    }
    const bool all_taken = ch->acked[0].wait_for(total, 1'000'000);
    if (!all_taken) {
        ch->stop.store(1);
        f->word.fetch_add(1000);  // whatever it waits for, it is not this: it sees stop
        futex(&f->word, FUTEX_WAKE, INT_MAX);
    }
    if (!reap(state, child, "waiter") || !all_taken) return;
    set_latency_counters(state, summarize({ch.samples() + warmup, frames}));
    const auto call = summarize({wake_call_ns.data() + warmup, frames});
    state.counters["wake_call_p50_ns"] = call.p50;
    state.counters["wake_call_p99_ns"] = call.p99;
}

// What one now_ns() costs: every latency figure contains one or two.
void clock_read(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(now_ns());
}

// One memcpy of a whole frame between two buffers that are already mapped.
void frame_memcpy(benchmark::State& state, FrameSize size) {
    const std::size_t bytes = size.bytes();
    std::vector<std::byte> source(bytes, std::byte{1});
    std::vector<std::byte> target(bytes, std::byte{0});
    for (auto _ : state) {
        std::memcpy(target.data(), source.data(), bytes);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

}  // namespace

// Named after the frame size whose framebus latencies they were measured
// next to: the report sets each framebus figure against its neighbour.
void register_floor_futex_benchmark(const RunLengths& run, std::size_t size_index) {
    benchmark::RegisterBenchmark(
        (std::string("floor_futex/wake/") + kFrameSizes[size_index].label).c_str(),
        [=](benchmark::State& s) { futex_wake(s, run.latency_warmup); })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime()
        ->Iterations(run.latency_frames);
}

void register_floor_cacheline_benchmarks(const RunLengths& run, std::size_t size_index) {
    const std::string at = std::string("/") + kFrameSizes[size_index].label;
    benchmark::RegisterBenchmark(("floor_cacheline/pingpong" + at).c_str(), cacheline_pingpong)
        ->Unit(benchmark::kNanosecond)
        ->UseRealTime()
        ->Iterations(run.pingpong_round_trips);
    benchmark::RegisterBenchmark(
        ("floor_cacheline/stamped" + at).c_str(),
        [=](benchmark::State& s) { cacheline_stamped(s, run.latency_warmup); })
        ->Unit(benchmark::kNanosecond)
        ->UseRealTime()
        ->Iterations(run.latency_frames);
}

void register_copy_benchmarks(const RunLengths& run) {
    benchmark::RegisterBenchmark("floor_clock/now_ns", clock_read)
        ->Unit(benchmark::kNanosecond)
        ->MinTime(run.min_time_s)
        ->Repetitions(run.repetitions)
        ->ReportAggregatesOnly(run.repetitions > 1);
    for (const FrameSize& size : kFrameSizes) {
        benchmark::RegisterBenchmark((std::string("memcpy/") + size.label).c_str(),
                                     [=](benchmark::State& s) { frame_memcpy(s, size); })
            ->Unit(benchmark::kMicrosecond)
            ->MinTime(run.min_time_s)
            ->Repetitions(run.repetitions)
            ->ReportAggregatesOnly(run.repetitions > 1);
    }
}

}  // namespace framebus::bench
