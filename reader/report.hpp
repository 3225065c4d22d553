// What the reader reports and how: the error line, event lines, the summary
// line on stdout, stamp verification, saved images, and the stop request.
#pragma once

#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

#include "framebus/app/program.hpp"
#include "framebus/error.hpp"
#include "framebus/frame.hpp"
#include "framebus/reader.hpp"

namespace framebus::reader {

inline constexpr std::int64_t kSecondNs = 1'000'000'000;
inline constexpr std::int64_t kMillisecondNs = 1'000'000;

inline constexpr std::string_view kProgram = "framebus-reader";

// SIGINT/SIGTERM ask for a clean exit (summary printed, exit code as usual).
using app::install_stop_handlers;
using app::stop_requested;

// `framebus-reader: error: <what>` on stderr: the one line of a failure.
inline void print_error(const std::string& what) {
    app::report_error(kProgram, what, app::kExitFailed);
}
using app::exit_code_of;  // 2 for input errors, else 1

[[nodiscard]] std::string describe(const FrameFormat& format);  // "640x480 bgr24"
[[nodiscard]] inline std::int64_t to_microseconds(std::int64_t ns) {
    return (ns + 500) / 1000;
}
// Sleeps; a signal ends it early (the caller's loop then sees the stop request).
void sleep_ns(std::int64_t ns);

// Saves a frame in the file format of the path's extension (PNG for .png),
// converted to BGR order first where needed.
// `displayable_frame`: BGR or gray (see displayable()).
[[nodiscard]] Status save_image(const std::string& path, const cv::Mat& displayable_frame);

// Stamp check of the built-in test pattern: the frame number and a checksum
// of every byte, which must match the lease's sequence.
class Verifier {
  public:
    explicit Verifier(bool enabled) : enabled_(enabled) {}
    void check(const Lease& lease, const std::string& name);  // no allocation unless it fails
    [[nodiscard]] std::uint64_t verified() const { return verified_; }
    [[nodiscard]] std::uint64_t mismatches() const { return mismatches_; }

  private:
    bool enabled_;
    std::uint64_t verified_ = 0;
    std::uint64_t mismatches_ = 0;
};

struct Summary {
    std::uint64_t frames = 0;
    std::uint64_t skipped = 0;
    std::uint64_t verified = 0;
    std::uint64_t mismatches = 0;
    double fps = 0;
    std::int64_t latency_p50_ns = 0;
    std::int64_t latency_p99_ns = 0;
    std::uint64_t writer_restarts = 0;
};

// The one line on stdout that scripts and tests parse:
// summary: frames=<n> skipped=<n> verified=<n> mismatches=<n> fps=<x.x>
//          latency_p50_us=<x> latency_p99_us=<x> writer_restarts=<n>   (one line)
void print_summary(const Summary& summary);

}  // namespace framebus::reader
