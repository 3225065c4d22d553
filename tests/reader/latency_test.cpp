// The reader's latency statistics (no processes). Label: reader.
#include <gtest/gtest.h>

#include <cstdint>

#include "latency.hpp"

namespace framebus::reader {
namespace {

TEST(IntervalLatencies, NearestRankPercentilesOfTheSamples) {
    IntervalLatencies samples(1000);
    for (std::int64_t v = 100; v >= 1; --v) samples.add(v);  // 1..100, any order
    EXPECT_EQ(samples.size(), 100u);
    EXPECT_EQ(samples.percentile(0.50), 50);
    EXPECT_EQ(samples.percentile(0.99), 99);
    EXPECT_EQ(samples.percentile(1.0), 100);
    EXPECT_EQ(samples.percentile(0.0), 1);
    samples.clear();
    EXPECT_EQ(samples.size(), 0u);
    EXPECT_EQ(samples.percentile(0.5), 0);
}

TEST(IntervalLatencies, KeepsTheMostRecentSamplesWhenFull) {
    IntervalLatencies samples(10);
    for (std::int64_t v = 1; v <= 1000; ++v) samples.add(v);
    EXPECT_EQ(samples.size(), 10u);
    EXPECT_EQ(samples.percentile(0.0), 991);
    EXPECT_EQ(samples.percentile(1.0), 1000);
}

TEST(LatencyHistogram, BucketsAreContiguousAndCoverEveryValue) {
    EXPECT_EQ(LatencyHistogram::bucket_of(0), 0u);
    EXPECT_EQ(LatencyHistogram::bucket_of(127), 127u);
    EXPECT_EQ(LatencyHistogram::bucket_of(128), 128u);
    EXPECT_EQ(LatencyHistogram::bucket_of(~std::uint64_t{0}), LatencyHistogram::kBuckets - 1);
    std::size_t previous = 0;
    for (std::uint64_t v = 1; v < (std::uint64_t{1} << 20); v += 1 + v / 1000) {
        const std::size_t b = LatencyHistogram::bucket_of(v);
        EXPECT_LE(previous, b);
        EXPECT_LE(b, previous + 1);  // no bucket skipped
        previous = b;
        // The bucket's middle is within 1.6 % of every value in it.
        const double middle = static_cast<double>(LatencyHistogram::middle_of(b));
        EXPECT_NEAR(middle, static_cast<double>(v), static_cast<double>(v) * 0.016 + 0.5);
    }
}

TEST(LatencyHistogram, PercentilesAreWithinTheBucketError) {
    LatencyHistogram histogram;
    EXPECT_EQ(histogram.percentile(0.5), 0);
    for (std::int64_t us = 1; us <= 1000; ++us) histogram.add(us * 1000);  // 1 us .. 1 ms
    EXPECT_EQ(histogram.count(), 1000u);
    EXPECT_NEAR(static_cast<double>(histogram.percentile(0.50)), 500'000.0, 500'000.0 * 0.016);
    EXPECT_NEAR(static_cast<double>(histogram.percentile(0.99)), 990'000.0, 990'000.0 * 0.016);
    histogram.add(-5);  // a clock rounding, counted as 0
    EXPECT_EQ(histogram.percentile(0.0), 0);
}

}  // namespace
}  // namespace framebus::reader
