// `framebus watch NAME`: a live view, refreshed every --interval seconds
// until SIGINT/SIGTERM (exit 0) or --count refreshes.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <ctime>
#include <iterator>
#include <optional>
#include <string>

#include "commands.hpp"
#include "framebus/inspect.hpp"
#include "framebus/name.hpp"
#include "segment_facts.hpp"
#include "text_table.hpp"

namespace framebus::cli {

namespace {

// SIGINT and SIGTERM are blocked and taken synchronously with sigtimedwait,
// which is also the pause between refreshes: no handler, no race.
class StopSignals {
  public:
    StopSignals() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        sigprocmask(SIG_BLOCK, &set_, &old_);
    }
    ~StopSignals() { sigprocmask(SIG_SETMASK, &old_, nullptr); }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    // Waits up to `seconds`; true if a stop signal arrived.
    bool wait(double seconds) const {
        const double whole = std::floor(seconds);
        timespec timeout{static_cast<time_t>(whole), static_cast<long>((seconds - whole) * 1e9)};
        for (;;) {
            const int sig = sigtimedwait(&set_, nullptr, &timeout);
            if (sig == SIGINT || sig == SIGTERM) return true;
            if (sig < 0 && errno == EINTR) continue;  // another signal; timeout is not updated
            return false;                             // EAGAIN: the interval is over
        }
    }

  private:
    sigset_t set_{};
    sigset_t old_{};
};

struct Previous {
    SegmentView view;
    std::int64_t taken_ns = 0;
};

// Appends one refresh's text to `screen`.
void render(const SegmentView& v, std::int64_t now, const std::optional<Previous>& previous,
            std::uint64_t refresh, std::string& screen) {
    auto out = std::back_inserter(screen);
    std::optional<double> fps;
    const char* fps_source = "ring, last second";
    if (previous) {
        fps = sampled_fps(previous->view, previous->taken_ns, v, now);
        fps_source = "since last refresh";
    }
    if (!fps) fps = ring_fps(v, now);
    const SlotView* newest = newest_frame(v);

    fmt::format_to(out, "{}  refresh {}  state {}  writer pid {} {}\n", v.name, refresh,
                   health_name(v, now), v.writer_pid, v.writer_alive ? "alive" : "dead");
    fmt::format_to(out, "frame {}  fps {} ({})  latest seq {}  published {}  dropped {}\n",
                   newest != nullptr ? frame_size(newest->format) : "-",
                   fps ? fmt::format("{:.1f}", *fps) : "-", fps_source, v.latest_sequence,
                   v.frames_published, v.frames_dropped);
    if (newest != nullptr)
        fmt::format_to(out, "latency newest frame age {}  capture->publish {} us\n",
                       duration_text(now - newest->publish_ns),
                       (newest->publish_ns - newest->capture_ns) / 1000);
    std::string slots = "slots";
    for (const SlotView& s : v.slots) {
        std::string cell = s.writing         ? "writing"
                           : s.sequence == 0 ? "empty"
                                             : fmt::format("#{}", s.sequence);
        if (s.holders != 0) cell += fmt::format("[r{}]", holder_list(s.holders));
        slots += fmt::format("  {}:{}", s.index, cell);
    }
    fmt::format_to(out, "{}\n", slots);
    if (v.readers.empty()) {
        fmt::format_to(out, "readers none\n");
    } else {
        using A = TextTable::Align;
        TextTable readers({{"READER", A::right},
                           {"PID", A::right},
                           {"ALIVE"},
                           {"LAST-SEQ", A::right},
                           {"BEHIND", A::right},
                           {"FRAMES", A::right},
                           {"SKIPPED", A::right},
                           {"HELD-SLOT", A::right}});
        for (const ReaderView& r : v.readers)
            readers.add_row({std::to_string(r.index), std::to_string(r.pid), r.alive ? "yes" : "no",
                             std::to_string(r.last_sequence),
                             std::to_string(v.latest_sequence >= r.last_sequence
                                                ? v.latest_sequence - r.last_sequence
                                                : 0),
                             std::to_string(r.frames), std::to_string(r.skipped),
                             r.held_slot >= 0 ? std::to_string(r.held_slot) : "-"});
        fmt::format_to(out, "{}", readers.render());
    }
}

}  // namespace

int run_watch(const WatchOptions& options) {
    if (!(options.interval_seconds > 0))
        return report_error("--interval must be greater than 0", kExitUsage);
    // The segment must be there at the start; later it may vanish and come
    // back (a writer restarting under the same name), and we keep watching.
    if (auto first = inspect(options.name); !first) return report_error(first.error());

    const StopSignals stop;
    const bool terminal = ::isatty(STDOUT_FILENO) == 1;
    std::optional<Previous> previous;
    for (std::uint64_t refresh = 1;; ++refresh) {
        auto view = inspect(options.name);
        const std::int64_t now = now_ns();
        std::string screen;
        if (terminal) screen += "\x1b[H\x1b[2J";  // home + clear: a screen, not a scroll
        if (view) {
            render(*view, now, previous, refresh, screen);
            previous = Previous{std::move(*view), now};
        } else {
            fmt::format_to(std::back_inserter(screen), "{}  refresh {}  {}\n", options.name,
                           refresh, printable(view.error().message));
            previous.reset();
        }
        if (!terminal) screen += '\n';
        // Nobody reads the view any more (`watch NAME | head`): done, as with a stop signal.
        if (!app::print(stdout, "{}", screen)) return kExitOk;
        if (options.count && refresh >= *options.count) return kExitOk;
        if (stop.wait(options.interval_seconds)) return kExitOk;
    }
}

}  // namespace framebus::cli
