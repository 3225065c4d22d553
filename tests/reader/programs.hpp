// The reader tier's view of its programs (each a test::Program): their
// paths in the build and the reader's summary line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "program.hpp"

namespace framebus::test {

// The reader's `summary:` line.
struct ReaderSummary {
    std::uint64_t frames = 0;
    std::uint64_t skipped = 0;
    std::uint64_t verified = 0;
    std::uint64_t mismatches = 0;
    double fps = 0;
    std::uint64_t latency_p50_us = 0;
    std::uint64_t latency_p99_us = 0;
    std::uint64_t writer_restarts = 0;
};
// Parses stdout that must be exactly one summary line.
[[nodiscard]] std::optional<ReaderSummary> parse_summary(const std::string& stdout_text);

// Paths of the programs under test, from the build.
[[nodiscard]] std::string reader_bin();
[[nodiscard]] std::string writer_bin();       // the real framebus-writer when it is built
[[nodiscard]] std::string test_writer_bin();  // the known-content writer of these tests

}  // namespace framebus::test
