// framebus against the other zero-copy bus users would pick (iceoryx), by
// one driver, so both are measured the same way by construction. A transport
// T provides
//   T::kName                                   "framebus", "iceoryx"
//   T::Writer::open(name, size)  -> std::unique_ptr<T::Writer> (nullptr: failed)
//   writer.connected()           a reader is attached and will get what is published
//   writer.loan()    -> std::byte*             room for one frame (nullptr: none)
//   writer.publish()                           hands the loaned frame over
//   T::Reader::open(name, size)  -> std::unique_ptr<T::Reader>
//   reader.connected()
//   reader.wait()    -> bool                   blocks until a frame may be there (false: error)
//   reader.take()    -> const std::byte*       the next frame in order, nullptr if none
//   reader.release()                           gives the taken frame back
// Writer and reader both run in forked children pinned to different CPUs
// (iceoryx's runtime is one per process); this process only coordinates.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench_support.hpp"

namespace framebus::bench {

enum class ZeroCopyCase {
    stamp_wake,  // the writer writes only the timestamp; the reader blocks
    stamp_poll,  // ... the reader busy-polls take()
    fill_wake,   // the writer fills every byte, stamped before loan(); the reader blocks
    fill_poll,
};
[[nodiscard]] inline bool fills(ZeroCopyCase c) {
    return c == ZeroCopyCase::fill_wake || c == ZeroCopyCase::fill_poll;
}
[[nodiscard]] inline bool polls(ZeroCopyCase c) {
    return c == ZeroCopyCase::stamp_poll || c == ZeroCopyCase::fill_poll;
}
[[nodiscard]] const char* to_string(ZeroCopyCase c);

using ZeroCopyLatency = void (*)(benchmark::State&, FrameSize, ZeroCopyCase, int warmup);
using ZeroCopyRate = void (*)(benchmark::State&, FrameSize);
struct ZeroCopyTransport {
    std::string name;
    ZeroCopyLatency latency;
    ZeroCopyRate rate;
    void (*after_last)(const benchmark::State&) = nullptr;  // e.g. stop a daemon
};

// Until `ready()` or ~10 s passed.
template <class Ready>
[[nodiscard]] bool wait_until(Ready ready) {
    const std::int64_t deadline = now_ns() + 10'000'000'000;
    while (!ready()) {
        if (now_ns() > deadline) return false;
        ::usleep(1000);
    }
    return true;
}

namespace zero_copy_detail {

// Waits for the writer child, then (whatever happened) stops a polling
// reader and waits for it; fails the state on any error.
inline bool reap_pair(benchmark::State& state, SharedChannel& ch, ChildProcess& writer,
                      ChildProcess& reader) {
    const int code = writer.wait(std::chrono::seconds(60));
    ch->stop.store(1);
    if (code != 0) {
        fail(state, "writer process " +
                        std::string(code == -1 ? "hung and was killed"
                                               : "failed with code " + std::to_string(code)));
        return false;
    }
    return reap(state, reader, "reader");
}

}  // namespace zero_copy_detail

// One frame in flight: the writer sends frame n once the reader acknowledged
// frame n-1 and (blocking reader) said it is about to block, plus 20 µs so
// it sleeps. Latency = now_ns() in the reader right after take() − the stamp
// in the frame's first 8 bytes (taken after loan(), or before loan() when the
// writer fills the frame: then the fill is part of the latency).
template <class T>
void zero_copy_latency(benchmark::State& state, FrameSize size, ZeroCopyCase what, int warmup) {
    const auto frames = static_cast<std::uint32_t>(state.max_iterations);
    const std::uint32_t total = frames + static_cast<std::uint32_t>(warmup);
    const std::uint64_t bytes = size.bytes();
    const std::string name = unique_segment_name("zc");
    const bool fill = fills(what);
    const bool poll = polls(what);
    // After the frames: the writer's own memset of a private buffer of the
    // frame's size, kFloorFills times (the fill rows' floor, measured in the
    // same pinned process with the same pauses).
    constexpr std::uint32_t kFloorFills = 50;
    SharedChannel ch(total + kFloorFills);
    ChildProcess writer_process([&] {
        pin_this_thread(writer_cpu());
        auto writer = T::Writer::open(name, size);
        if (!writer) return 3;
        ch->go.store(1);
        if (!ch->ready.wait_for(1, 0) || !wait_until([&] { return writer->connected(); })) return 4;
        for (std::uint32_t n = 0; n < total; ++n) {
            if (!ch->acked[0].wait_for(n, 1'000'000)) return 5;
            if (poll) {
                spin_for_ns(kPollPauseNs);
            } else {
                if (!ch->armed.wait_for(n + 1, 1'000'000)) return 5;
                spin_for_ns(kBlockedPauseNs);
            }
            const std::int64_t before_loan = now_ns();
            std::byte* frame = writer->loan();
            if (frame == nullptr) return 6;
            if (fill) std::memset(frame, fill_value(n), bytes);
            const std::int64_t stamp = fill ? before_loan : now_ns();
            std::memcpy(frame, &stamp, sizeof stamp);
            writer->publish();
        }
        if (!ch->acked[0].wait_for(total, 1'000'000)) return 7;
        if (fill) {
            std::vector<std::byte> own(bytes, std::byte{1});
            for (std::uint32_t k = 0; k < kFloorFills; ++k) {
                spin_for_ns(poll ? kPollPauseNs : kBlockedPauseNs);
                const std::int64_t start = now_ns();
                std::memset(own.data(), fill_value(k), bytes);
                benchmark::ClobberMemory();
                ch.samples()[total + k] = now_ns() - start;
            }
        }
        return 0;
    });
    ChildProcess reader_process([&] {
        pin_this_thread(receiver_cpu());
        if (!ch->go.wait_for(1, 0)) return 3;
        auto reader = T::Reader::open(name, size);
        if (!reader || !wait_until([&] { return reader->connected(); })) return 4;
        ch->ready.add();
        for (std::uint32_t n = 0; n < total; ++n) {
            const std::byte* frame = nullptr;
            if (poll) {
                for (std::uint32_t spins = 1; (frame = reader->take()) == nullptr; ++spins) {
                    spin_hint();
                    if ((spins & 0xfff) == 0 && ch->stop.load(std::memory_order_relaxed)) return 5;
                }
            } else {
                ch->armed.store(n + 1);
                while ((frame = reader->take()) == nullptr)
                    if (!reader->wait()) return 5;
            }
            const std::int64_t taken_ns = now_ns();
            std::int64_t stamp = 0;
            std::memcpy(&stamp, frame, sizeof stamp);
            ch.samples()[n] = taken_ns - stamp;
            reader->release();
            ch->acked[0].add();
        }
        return 0;
    });
    if (!zero_copy_detail::reap_pair(state, ch, writer_process, reader_process)) return;
    for (auto _ : state) {
    }  // the children did the work; the figures are the counters
    set_latency_counters(state, summarize({ch.samples() + warmup, frames}));
    if (fill) {
        std::int64_t* floor = ch.samples() + total;
        std::nth_element(floor, floor + kFloorFills / 2, floor + kFloorFills);
        state.counters["memset_p50_ns"] = static_cast<double>(floor[kFloorFills / 2]);
    }
}

// Max rate: the writer publishes `frames` frames back to back (the sequence
// number in the first 8 bytes, pixels untouched); the reader busy-polls
// take() and counts what it gets. Frames per second at the reader (first to
// last frame it took) and at the writer; frames the reader never saw.
template <class T>
void zero_copy_rate(benchmark::State& state, FrameSize size) {
    const auto frames = static_cast<std::uint32_t>(state.max_iterations);
    const std::string name = unique_segment_name("zcr");
    enum Result { writer_ns, first_ns, last_ns, received, out_of_order, result_count };
    SharedChannel ch(result_count);
    std::int64_t* results = ch.samples();
    ChildProcess writer_process([&] {
        pin_this_thread(writer_cpu());
        auto writer = T::Writer::open(name, size);
        if (!writer) return 3;
        ch->go.store(1);
        if (!ch->ready.wait_for(1, 0) || !wait_until([&] { return writer->connected(); })) return 4;
        const std::int64_t start = now_ns();
        for (std::uint64_t seq = 1; seq <= frames; ++seq) {
            std::byte* frame = writer->loan();
            if (frame == nullptr) return 6;
            std::memcpy(frame, &seq, sizeof seq);
            writer->publish();
        }
        results[writer_ns] = now_ns() - start;
        return ch->acked[0].wait_for(1, 1'000'000) ? 0 : 7;
    });
    ChildProcess reader_process([&] {
        pin_this_thread(receiver_cpu());
        if (!ch->go.wait_for(1, 0)) return 3;
        auto reader = T::Reader::open(name, size);
        if (!reader || !wait_until([&] { return reader->connected(); })) return 4;
        ch->ready.add();
        std::int64_t count = 0, disorder = 0, first = 0, last = 0;
        std::uint64_t previous = 0;
        for (std::uint32_t spins = 1;; ++spins) {
            const std::byte* frame = reader->take();
            if (frame == nullptr) {
                spin_hint();
                // The writer is done and the last frame was taken: stop.
                if (previous == frames || ((spins & 0xfff) == 0 && ch->stop.load())) break;
                continue;
            }
            last = now_ns();
            if (count++ == 0) first = last;
            std::uint64_t seq = 0;
            std::memcpy(&seq, frame, sizeof seq);
            if (seq <= previous) ++disorder;
            previous = seq;
            reader->release();
        }
        results[first_ns] = first;
        results[last_ns] = last;
        results[received] = count;
        results[out_of_order] = disorder;
        ch->acked[0].add();
        return 0;
    });
    if (!zero_copy_detail::reap_pair(state, ch, writer_process, reader_process)) return;
    for (auto _ : state) {
    }
    if (results[out_of_order] != 0) return fail(state, "frames came out of order");
    const double got = static_cast<double>(results[received]);
    const double span_ns = static_cast<double>(results[last_ns] - results[first_ns]);
    state.counters["reader_fps"] = span_ns > 0 ? (got - 1) * 1e9 / span_ns : 0;
    state.counters["writer_fps"] =
        results[writer_ns] > 0 ? frames * 1e9 / static_cast<double>(results[writer_ns]) : 0;
    state.counters["received"] = got;
    state.counters["lost"] = frames - got;
}

#ifdef FRAMEBUS_BENCH_HAVE_ICEORYX
// nullopt with `why_not` set when iceoryx cannot run here (no iox-roudi).
[[nodiscard]] std::optional<ZeroCopyTransport> iceoryx_zero_copy(std::string& why_not);
// ice_fanout/readers_N: fanout_bench.cpp's many blocked readers, for iceoryx
// (registered only where iceoryx can run).
void register_iceoryx_fanout_benchmarks(std::uint32_t paced, std::uint32_t warmup);
#endif

}  // namespace framebus::bench
