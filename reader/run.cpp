// Decides how to run (window, headless, snapshot), opens the segment, runs.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include "frame_window.hpp"
#include "framebus/reader.hpp"
#include "options.hpp"
#include "report.hpp"
#include "snapshot.hpp"
#include "stream_loop.hpp"

namespace framebus::reader {

namespace {

constexpr std::int64_t kOpenSliceNs = 200 * kMillisecondNs;  // a stop request is seen this fast

// Opens the segment, waiting up to --wait for it to appear (in slices, so
// SIGINT/SIGTERM end the wait).
Result<Reader> open_stream(const Options& options) {
    const std::int64_t deadline = now_ns() + static_cast<std::int64_t>(options.wait_seconds * 1e9);
    for (;;) {
        ReaderOptions reader_options;
        reader_options.wait_for_segment =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(
                std::clamp<std::int64_t>(deadline - now_ns(), 0, kOpenSliceNs)));
        reader_options.follow = true;
        auto stream = Reader::open(options.name, reader_options);
        if (stream || stream.error().code != Errc::not_found || now_ns() >= deadline ||
            stop_requested())
            return stream;
    }
}

}  // namespace

int run(const Options& options) {
    install_stop_handlers();
    const char* display = std::getenv("DISPLAY");
    const bool no_display = display == nullptr || *display == '\0';
    const bool headless = options.headless || no_display;
    if (!headless && !options.snapshot && !display_reachable(display)) {
        print_error(fmt::format("cannot connect to display '{}' (use --headless)", display));
        return 2;
    }

    auto stream = open_stream(options);
    if (!stream) {
        Error error = stream.error();
        if (error.code == Errc::not_found && stop_requested()) {
            print_summary(Summary{});  // stopped while waiting: nothing was read
            return 0;
        }
        if (error.code == Errc::not_found && options.wait_seconds > 0)
            error.message = fmt::format("no writer started under the name '{}' within {} s",
                                        options.name, options.wait_seconds);
        print_error(error.message);
        return exit_code_of(error);
    }
    if (options.snapshot) return run_snapshot(options, *stream);

    std::unique_ptr<FrameWindow> window;
    if (!headless)
        window = std::make_unique<FrameWindow>(options.name);
    else if (!options.headless && !options.quiet)
        fmt::print(stderr, "framebus-reader: no $DISPLAY; running headless\n");
    return StreamLoop(options, *stream, std::move(window)).run();
}

}  // namespace framebus::reader
