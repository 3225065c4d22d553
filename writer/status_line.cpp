#include "status_line.hpp"

#include <unistd.h>

#include "framebus/app/program.hpp"

namespace framebus::writer {

StatusLine::StatusLine(bool enabled, std::FILE* out)
    : enabled_(enabled), terminal_(::isatty(::fileno(out)) == 1), out_(out) {}

bool StatusLine::tick(const PublishCounters& counters, std::uint32_t readers,
                      std::string_view state) {
    const auto now = Clock::now();
    const std::chrono::duration<double> elapsed = now - last_;
    if (elapsed < std::chrono::seconds(1)) return false;
    const double fps = static_cast<double>(counters.frames - last_frames_) / elapsed.count();
    last_ = now;
    last_frames_ = counters.frames;
    if (!enabled_) return true;
    app::print(out_,
               "{}frames={} fps={:.1f} dropped={} zero_copy_misses={} decode_errors={} "
               "readers={}{}{}{}",
               terminal_ ? "\r" : "", counters.frames, fps, counters.dropped,
               counters.zero_copy_misses, counters.decode_errors, readers, state.empty() ? "" : " ",
               state, terminal_ ? "\x1b[K" : "\n");
    line_open_ = terminal_;
    return true;
}

void StatusLine::summary(const PublishCounters& counters) {
    if (line_open_) app::print(out_, "\n");
    line_open_ = false;
    app::print(out_,
               "writer summary: frames={} dropped={} zero_copy_misses={} decode_errors={} "
               "replaced={} reconnects={} reopened={} newest_reused={}\n",
               counters.frames, counters.dropped, counters.zero_copy_misses, counters.decode_errors,
               counters.replaced, counters.reconnects, counters.reopened, counters.newest_reused);
}

}  // namespace framebus::writer
