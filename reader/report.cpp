#include "report.hpp"

#include <fmt/core.h>
#include <time.h>

#include <cstdio>
#include <opencv2/imgcodecs.hpp>

#include "frame_window.hpp"
#include "framebus/stamp.hpp"

namespace framebus::reader {

namespace {
constexpr std::uint64_t kMismatchLinesShown = 5;

}  // namespace

std::string describe(const FrameFormat& format) {
    return fmt::format("{}x{} {}", format.width, format.height, to_string(format.pixel_format));
}

void sleep_ns(std::int64_t ns) {
    if (ns <= 0) return;
    timespec t{static_cast<time_t>(ns / kSecondNs), static_cast<long>(ns % kSecondNs)};
    ::nanosleep(&t, nullptr);
}

Status save_image(const std::string& path, const cv::Mat& displayable_frame) {
    try {
        if (!displayable_frame.empty() && cv::imwrite(path, displayable_frame)) return ok_status();
    } catch (const cv::Exception& e) {
        return Error{Errc::system, fmt::format("cannot write '{}': {}", path, e.what())};
    }
    return Error{Errc::system, fmt::format("cannot write '{}'", path)};
}

void Verifier::check(const Lease& lease, const std::string& name) {
    if (!enabled_) return;
    const StampResult stamp = check_stamp(lease.data(), lease.format());
    if (stamp.check == StampCheck::ok && stamp.number == lease.sequence()) {
        ++verified_;
        return;
    }
    ++mismatches_;
    if (mismatches_ > kMismatchLinesShown) return;
    const char* why = stamp.check == StampCheck::no_stamp       ? "no stamp"
                      : stamp.check == StampCheck::bad_checksum ? "bad checksum"
                                                                : "wrong frame number";
    app::print(stderr, "framebus-reader: verify: frame {} of '{}': {} (stamp says {}){}\n",
               lease.sequence(), name, why, stamp.number,
               mismatches_ == kMismatchLinesShown ? "; further mismatches only counted" : "");
}

void print_summary(const Summary& s) {
    app::print(stdout,
               "summary: frames={} skipped={} verified={} mismatches={} fps={:.1f} "
               "latency_p50_us={} latency_p99_us={} writer_restarts={}\n",
               s.frames, s.skipped, s.verified, s.mismatches, s.fps,
               to_microseconds(s.latency_p50_ns), to_microseconds(s.latency_p99_ns),
               s.writer_restarts);
}

}  // namespace framebus::reader
