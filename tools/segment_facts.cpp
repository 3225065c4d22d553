#include "segment_facts.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <string>

namespace framebus::cli {

const SlotView* newest_frame(const SegmentView& view) {
    const SlotView* newest = nullptr;
    for (const SlotView& slot : view.slots) {
        if (slot.writing || slot.sequence == 0) continue;
        if (newest == nullptr || slot.sequence > newest->sequence) newest = &slot;
    }
    return newest;
}

std::optional<double> ring_fps(const SegmentView& view, std::int64_t now) {
    constexpr std::int64_t kWindow = 1'000'000'000;
    const std::int64_t window_start = now - kWindow;
    const SlotView* newest = newest_frame(view);
    if (newest == nullptr) return std::nullopt;
    // The oldest frame of the ring published inside the window. Sequences
    // have no gaps and grow with publish time, so every frame from it to the
    // newest was published inside the window too.
    const SlotView* oldest_in_window = nullptr;
    for (const SlotView& slot : view.slots) {
        if (slot.writing || slot.sequence == 0 || slot.publish_ns <= window_start) continue;
        if (oldest_in_window == nullptr || slot.sequence < oldest_in_window->sequence)
            oldest_in_window = &slot;
    }
    if (oldest_in_window == nullptr) return 0.0;  // nothing for a second
    const std::uint64_t first = oldest_in_window->sequence;
    // Exact when the frame just before it is known to be older than the
    // window: it is still in the ring, or there is none (sequence 1).
    bool previous_in_ring = first == 1;
    for (const SlotView& slot : view.slots)
        previous_in_ring = previous_in_ring || (!slot.writing && slot.sequence == first - 1);
    if (previous_in_ring) return static_cast<double>(newest->sequence - first + 1);
    // Overwritten frames may lie between the window's start and `first`:
    // the rate between `first` and the newest frame, extrapolated to the
    // second. (Once the writer stops, frames leave the window one by one and
    // the exact count above takes over.)
    const std::int64_t span = newest->publish_ns - oldest_in_window->publish_ns;
    if (newest->sequence == first || span <= 0) return std::nullopt;
    return static_cast<double>(newest->sequence - first) * 1e9 / static_cast<double>(span);
}

std::optional<double> sampled_fps(const SegmentView& before, std::int64_t before_ns,
                                  const SegmentView& after, std::int64_t after_ns) {
    const bool same_segment = before.created_realtime_ns == after.created_realtime_ns &&
                              before.writer_pid == after.writer_pid &&
                              after.frames_published >= before.frames_published;
    if (!same_segment || after_ns <= before_ns) return std::nullopt;
    return static_cast<double>(after.frames_published - before.frames_published) * 1e9 /
           static_cast<double>(after_ns - before_ns);
}

std::uint32_t live_reader_count(const SegmentView& view) {
    return static_cast<std::uint32_t>(std::count_if(view.readers.begin(), view.readers.end(),
                                                    [](const ReaderView& r) { return r.alive; }));
}

std::uint32_t dead_reader_count(const SegmentView& view) {
    return static_cast<std::uint32_t>(view.readers.size()) - live_reader_count(view);
}

const char* slot_state(const SlotView& slot) {
    if (slot.writing) return "writing";
    return slot.sequence == 0 ? "empty" : "committed";
}

const char* writer_state_name(layout::WriterState state) {
    switch (state) {
        case layout::WriterState::live:
            return "live";
        case layout::WriterState::end_of_stream:
            return "end-of-stream";
        case layout::WriterState::replaced:
            return "replaced";
    }
    return "unknown";
}

std::string holder_list(std::uint64_t holders) {
    std::string out;
    for (unsigned r = 0; r < 64; ++r) {
        if ((holders >> r & 1) == 0) continue;
        if (!out.empty()) out += ',';
        out += std::to_string(r);
    }
    return out.empty() ? "-" : out;
}

std::string frame_size(const FrameFormat& format) {
    return fmt::format("{}x{} {}", format.width, format.height, to_string(format.pixel_format));
}

std::string duration_text(std::optional<std::int64_t> ns) {
    if (!ns) return "-";
    const double s = static_cast<double>(*ns) / 1e9;
    if (s < 0) return "0 ms";  // another process's clock read a moment later
    if (s < 1) return fmt::format("{} ms", *ns / 1'000'000);
    if (s < 120) return fmt::format("{:.1f} s", s);
    if (s < 7200) return fmt::format("{:.0f} min", s / 60);
    if (s < 172800) return fmt::format("{:.1f} h", s / 3600);
    return fmt::format("{:.1f} d", s / 86400);
}

namespace {
std::string time_text(std::int64_t realtime_ns, bool utc) {
    const std::time_t seconds = static_cast<std::time_t>(realtime_ns / 1'000'000'000);
    const auto millis = static_cast<int>(realtime_ns % 1'000'000'000 / 1'000'000);
    std::tm parts{};
    if ((utc ? ::gmtime_r(&seconds, &parts) : ::localtime_r(&seconds, &parts)) == nullptr)
        return fmt::format("{} ns", realtime_ns);
    char date[64];
    if (std::strftime(date, sizeof date, utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &parts) ==
        0)
        return fmt::format("{} ns", realtime_ns);
    if (utc) return fmt::format("{}.{:03}Z", date, millis);
    char zone[16];
    if (std::strftime(zone, sizeof zone, "%z", &parts) == 0) zone[0] = '\0';
    return fmt::format("{}.{:03} {}", date, millis, zone);
}
}  // namespace

std::string local_time_text(std::int64_t realtime_ns) {
    return time_text(realtime_ns, false);
}
std::string utc_time_text(std::int64_t realtime_ns) {
    return time_text(realtime_ns, true);
}

std::optional<std::int64_t> process_start_realtime_ns(std::uint64_t start_ticks) {
    std::ifstream stat("/proc/stat");
    std::string word;
    std::int64_t boot_seconds = -1;
    while (stat >> word) {
        if (word == "btime") {
            stat >> boot_seconds;
            break;
        }
    }
    const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
    if (boot_seconds < 0 || ticks_per_second <= 0) return std::nullopt;
    return boot_seconds * 1'000'000'000 +
           static_cast<std::int64_t>(start_ticks * 1'000'000'000 /
                                     static_cast<std::uint64_t>(ticks_per_second));
}

std::string mode_text(std::uint32_t mode) {
    return fmt::format("{:04o}", mode & 07777);
}

const char* health_name(const SegmentView& view, std::int64_t now) {
    return to_string(health_of(view, now));
}

}  // namespace framebus::cli
