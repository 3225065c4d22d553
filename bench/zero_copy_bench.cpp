// framebus side by side with iceoryx (zero_copy.hpp's driver): framebus's
// transport, and the registration that puts each iceoryx benchmark right
// after the framebus one it is compared with.
#include <optional>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "zero_copy.hpp"

namespace framebus::bench {

const char* to_string(ZeroCopyCase c) {
    switch (c) {
        case ZeroCopyCase::stamp_wake:
            return "stamp_wake";
        case ZeroCopyCase::stamp_poll:
            return "stamp_poll";
        case ZeroCopyCase::fill_wake:
            return "fill_wake";
        case ZeroCopyCase::fill_poll:
            return "fill_poll";
    }
    return "?";
}

namespace {

// acquire() + commit() as loan() + publish(); next() as take(). ReuseNewest:
// WriterOptions::reuse_newest, the writer overwriting the newest frame once
// the reader has it (one hot slot, like iceoryx's one chunk in flight).
template <bool ReuseNewest>
struct FramebusTransport {
    static constexpr const char* kName = ReuseNewest ? "framebus-reuse" : "framebus";

    class Writer {
      public:
        static std::unique_ptr<Writer> open(const std::string& name, FrameSize size) {
            WriterOptions options;
            options.name = name;
            options.max_readers = 8;  // framebus-writer's default, as in every bus row
            options.initial_format = size.format();
            options.reuse_newest = ReuseNewest;
            auto writer = framebus::Writer::create(options);
            if (!writer) return nullptr;
            return std::unique_ptr<Writer>(new Writer(std::move(*writer), size.format()));
        }
        [[nodiscard]] bool connected() const { return writer_.readers_attached() > 0; }
        std::byte* loan() {
            auto slot = writer_.acquire(format_);
            if (!slot) return nullptr;
            slot_.emplace(std::move(*slot));
            return slot_->data();
        }
        void publish() {
            slot_->commit();
            slot_.reset();
        }

      private:
        Writer(framebus::Writer writer, const FrameFormat& format)
            : writer_(std::move(writer)), format_(format) {}
        framebus::Writer writer_;
        FrameFormat format_;
        std::optional<WriteSlot> slot_;
    };

    class Reader {
      public:
        static std::unique_ptr<Reader> open(const std::string& name, FrameSize) {
            auto reader = framebus::Reader::open(name);
            if (!reader) return nullptr;
            return std::unique_ptr<Reader>(new Reader(std::move(*reader)));
        }
        [[nodiscard]] bool connected() const { return true; }
        [[nodiscard]] bool wait() {
            return reader_.wait(std::chrono::seconds(10)) == WaitStatus::frame;
        }
        const std::byte* take() {
            if (reader_.latest_sequence() <= reader_.last_sequence()) return nullptr;
            auto lease = reader_.next();
            if (!lease) return nullptr;
            lease_.emplace(std::move(*lease));
            return lease_->data();
        }
        void release() { lease_.reset(); }

      private:
        explicit Reader(framebus::Reader reader) : reader_(std::move(reader)) {}
        framebus::Reader reader_;
        std::optional<Lease> lease_;
    };
};

}  // namespace

template <bool ReuseNewest>
ZeroCopyTransport framebus_zero_copy() {
    using T = FramebusTransport<ReuseNewest>;
    return {T::kName, &zero_copy_latency<T>, &zero_copy_rate<T>, nullptr};
}

void register_zero_copy_benchmarks(const RunLengths& run) {
    std::vector<ZeroCopyTransport> transports{framebus_zero_copy<false>()};
    // Only where the writer writes the frame: the slot choice is what differs.
    const ZeroCopyTransport reuse = framebus_zero_copy<true>();
#ifdef FRAMEBUS_BENCH_HAVE_ICEORYX
    std::string why_not;
    if (auto iceoryx = iceoryx_zero_copy(why_not))
        transports.push_back(*iceoryx);
    else
        benchmark::AddCustomContext("iceoryx", "skipped: " + why_not);
#else
    benchmark::AddCustomContext("iceoryx",
                                "skipped: not built (CMake found no iceoryx_posh; Debian packages "
                                "libiceoryx-posh-dev, libiceoryx-hoofs-dev and iceoryx)");
#endif
    std::vector<benchmark::internal::Benchmark*> last(transports.size(), nullptr);
    for (std::size_t i = 0; i < kFrameSizeCount; ++i) {
        const FrameSize size = kFrameSizes[i];
        for (ZeroCopyCase what : {ZeroCopyCase::stamp_wake, ZeroCopyCase::stamp_poll,
                                  ZeroCopyCase::fill_wake, ZeroCopyCase::fill_poll}) {
            // A filled 4K frame takes milliseconds: the baselines' frame counts.
            const int frames = fills(what) ? run.baseline_latency_frames[i] : run.latency_frames;
            const int warmup = fills(what) ? std::min(run.latency_warmup, 20) : run.latency_warmup;
            for (std::size_t t = 0; t < transports.size(); ++t) {
                const ZeroCopyLatency latency = transports[t].latency;
                last[t] = benchmark::RegisterBenchmark(
                              ("zc_latency/" + transports[t].name + "/" + size.label + "/" +
                               to_string(what))
                                  .c_str(),
                              [=](benchmark::State& s) { latency(s, size, what, warmup); })
                              ->Unit(benchmark::kMicrosecond)
                              ->UseRealTime()
                              ->Iterations(frames);
                if (t == 0 && fills(what))
                    benchmark::RegisterBenchmark(
                        ("zc_latency/" + reuse.name + "/" + size.label + "/" + to_string(what))
                            .c_str(),
                        [=](benchmark::State& s) { reuse.latency(s, size, what, warmup); })
                        ->Unit(benchmark::kMicrosecond)
                        ->UseRealTime()
                        ->Iterations(frames);
            }
        }
        for (std::size_t t = 0; t < transports.size(); ++t) {
            const ZeroCopyRate rate = transports[t].rate;
            last[t] = benchmark::RegisterBenchmark(
                          ("zc_rate/" + transports[t].name + "/" + size.label).c_str(),
                          [=](benchmark::State& s) { rate(s, size); })
                          ->Unit(benchmark::kMillisecond)
                          ->UseRealTime()
                          ->Iterations(run.zero_copy_rate_frames);
        }
    }
    for (std::size_t t = 0; t < transports.size(); ++t)
        if (transports[t].after_last != nullptr) last[t]->Teardown(transports[t].after_last);
}

}  // namespace framebus::bench
