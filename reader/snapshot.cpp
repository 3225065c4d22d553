// --snapshot: wait for a frame, save it, exit.
#include "snapshot.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <limits>

#include "frame_window.hpp"
#include "framebus/opencv.hpp"
#include "report.hpp"

namespace framebus::reader {

namespace {
constexpr std::int64_t kWaitSliceNs = 200 * kMillisecondNs;  // stop requests are seen this fast
}  // namespace

int run_snapshot(const Options& options, Reader& reader) {
    // No --duration: no deadline (INT64_MAX ns is 292 years away).
    const std::int64_t deadline =
        options.duration_seconds > 0
            ? now_ns() + static_cast<std::int64_t>(options.duration_seconds * 1e9)
            : std::numeric_limits<std::int64_t>::max();
    Verifier verifier(options.verify);
    for (;;) {
        if (stop_requested()) {
            print_error(fmt::format("interrupted before a frame of '{}' arrived", options.name));
            return 1;
        }
        auto lease = reader.latest();
        if (lease) {
            const std::int64_t latency = now_ns() - lease->info().publish_ns;
            verifier.check(*lease, options.name);
            cv::Mat conversion;
            if (auto saved = save_image(*options.snapshot,
                                        displayable(lease->data(), lease->format(), conversion));
                !saved) {
                print_error(saved.error().message);
                return 1;
            }
            if (!options.quiet)
                fmt::print(stderr, "framebus-reader: saved {} ({}, frame {} of '{}')\n",
                           *options.snapshot, describe(lease->format()), lease->sequence(),
                           options.name);
            print_summary(Summary{1, 0, verifier.verified(), verifier.mismatches(), 0, latency,
                                  latency, reader.writer_restarts()});
            return verifier.mismatches() > 0 ? 1 : 0;
        }
        if (lease.error().code != Errc::no_frame) {
            print_error(lease.error().message);
            return exit_code_of(lease.error());
        }
        const std::int64_t timeout = std::min(kWaitSliceNs, deadline - now_ns());
        if (timeout <= 0) {
            print_error(fmt::format("no frame of '{}' within {} s", options.name,
                                    options.duration_seconds));
            return 1;
        }
        switch (reader.wait(std::chrono::nanoseconds(timeout))) {
            case WaitStatus::frame:
            case WaitStatus::timed_out:
            case WaitStatus::followed:
                break;
            case WaitStatus::end_of_stream:
                print_error(fmt::format("the stream '{}' ended without a frame", options.name));
                return 1;
            case WaitStatus::writer_gone:
                print_error(fmt::format("the writer of '{}' (pid {}) is gone and left no frame",
                                        options.name, reader.writer_pid()));
                return 1;
            case WaitStatus::replaced:  // not while following
                break;
        }
    }
}

}  // namespace framebus::reader
