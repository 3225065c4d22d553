#include "programs.hpp"

#include <regex>

namespace framebus::test {

std::optional<ReaderSummary> parse_summary(const std::string& stdout_text) {
    static const std::regex line(
        R"(summary: frames=(\d+) skipped=(\d+) verified=(\d+) mismatches=(\d+) )"
        R"(fps=(\d+\.\d) latency_p50_us=(\d+) latency_p99_us=(\d+) writer_restarts=(\d+)\n)");
    std::smatch m;
    if (!std::regex_match(stdout_text, m, line)) return std::nullopt;
    ReaderSummary s;
    s.frames = std::stoull(m[1]);
    s.skipped = std::stoull(m[2]);
    s.verified = std::stoull(m[3]);
    s.mismatches = std::stoull(m[4]);
    s.fps = std::stod(m[5]);
    s.latency_p50_us = std::stoull(m[6]);
    s.latency_p99_us = std::stoull(m[7]);
    s.writer_restarts = std::stoull(m[8]);
    return s;
}

std::string reader_bin() {
    return FRAMEBUS_READER_BIN;
}
std::string writer_bin() {
    return FRAMEBUS_WRITER_BIN;
}
std::string test_writer_bin() {
    return FRAMEBUS_TEST_WRITER_BIN;
}

}  // namespace framebus::test
