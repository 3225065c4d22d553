// Publish-to-display latency statistics without allocating per frame: a
// fixed buffer of exact samples for each stats interval, and a log-linear
// histogram for the whole run.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace framebus::reader {

// The samples of one stats interval (about a second). The buffer is sized
// once; past its capacity the oldest samples are overwritten, so a very fast
// stream reports the percentiles of its most recent frames.
class IntervalLatencies {
  public:
    explicit IntervalLatencies(std::size_t capacity) : samples_(capacity) {}

    void add(std::int64_t latency_ns) {
        samples_[added_ % samples_.size()] = latency_ns;
        ++added_;
    }
    [[nodiscard]] std::size_t size() const {
        return added_ < samples_.size() ? added_ : samples_.size();
    }
    // Nearest-rank percentile, p in [0, 1]; 0 when empty. Reorders the samples.
    [[nodiscard]] std::int64_t percentile(double p);
    void clear() { added_ = 0; }

  private:
    std::vector<std::int64_t> samples_;
    std::size_t added_ = 0;
};

// Every latency of the run, in log-linear buckets: exact below 128 ns, then
// 64 buckets per power of two (at most 1.6 % off). 30 KB, allocated with us.
class LatencyHistogram {
  public:
    void add(std::int64_t latency_ns);
    [[nodiscard]] std::uint64_t count() const { return count_; }
    // Nearest-rank percentile (the bucket's middle), p in [0, 1]; 0 when empty.
    [[nodiscard]] std::int64_t percentile(double p) const;

    static constexpr int kSubBits = 6;
    static constexpr std::size_t kLinear = std::size_t{2} << kSubBits;  // 128 exact buckets
    static constexpr std::size_t kBuckets = kLinear + (64 - kSubBits - 1) * (kLinear / 2);

    [[nodiscard]] static std::size_t bucket_of(std::uint64_t value);
    [[nodiscard]] static std::uint64_t middle_of(std::size_t bucket);

  private:
    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t count_ = 0;
};

}  // namespace framebus::reader
