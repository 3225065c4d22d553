#include "latency.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace framebus::reader {

namespace {
// The 1-based nearest rank of percentile p among n values.
std::uint64_t nearest_rank(double p, std::uint64_t n) {
    const double clamped = std::clamp(p, 0.0, 1.0);
    const auto rank = static_cast<std::uint64_t>(std::ceil(clamped * static_cast<double>(n)));
    return std::clamp<std::uint64_t>(rank, 1, n);
}
}  // namespace

std::int64_t IntervalLatencies::percentile(double p) {
    const std::size_t n = size();
    if (n == 0) return 0;
    const auto nth = samples_.begin() + static_cast<std::ptrdiff_t>(nearest_rank(p, n) - 1);
    std::nth_element(samples_.begin(), nth, samples_.begin() + static_cast<std::ptrdiff_t>(n));
    return *nth;
}

std::size_t LatencyHistogram::bucket_of(std::uint64_t value) {
    if (value < kLinear) return static_cast<std::size_t>(value);
    const int shift = std::bit_width(value) - 1 - kSubBits;      // >= 1
    const std::uint64_t sub = (value >> shift) - (kLinear / 2);  // 0..63
    return kLinear + static_cast<std::size_t>(shift - 1) * (kLinear / 2) +
           static_cast<std::size_t>(sub);
}

std::uint64_t LatencyHistogram::middle_of(std::size_t bucket) {
    if (bucket < kLinear) return bucket;
    const std::size_t above = bucket - kLinear;
    const int shift = static_cast<int>(above / (kLinear / 2)) + 1;
    const std::uint64_t sub = above % (kLinear / 2) + kLinear / 2;
    return (sub << shift) + (std::uint64_t{1} << (shift - 1));
}

void LatencyHistogram::add(std::int64_t latency_ns) {
    // The bus has one clock; a negative latency can only be rounding. Count it as 0.
    const std::uint64_t value = latency_ns > 0 ? static_cast<std::uint64_t>(latency_ns) : 0;
    ++counts_[bucket_of(value)];
    ++count_;
}

std::int64_t LatencyHistogram::percentile(double p) const {
    if (count_ == 0) return 0;
    const std::uint64_t rank = nearest_rank(p, count_);
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
        seen += counts_[b];
        if (seen >= rank) return static_cast<std::int64_t>(middle_of(b));
    }
    return static_cast<std::int64_t>(middle_of(kBuckets - 1));
}

}  // namespace framebus::reader
