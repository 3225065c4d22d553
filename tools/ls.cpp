// `framebus ls`: one line per segment found by its magic in /dev/shm.
#include <fmt/format.h>

#include <optional>
#include <vector>

#include "commands.hpp"
#include "framebus/inspect.hpp"
#include "framebus/name.hpp"
#include "segment_facts.hpp"
#include "segment_json.hpp"
#include "text_table.hpp"

namespace framebus::cli {

namespace {

std::optional<std::int64_t> newest_age(const ListedSegment& entry) {
    const SlotView* newest = newest_frame(*entry.view);
    if (newest == nullptr) return std::nullopt;
    return entry.taken_ns - newest->publish_ns;
}

void print_table(const std::vector<ListedSegment>& listed) {
    using A = TextTable::Align;
    TextTable table({{"NAME"},
                     {"FRAME"},
                     {"SLOTS", A::right},
                     {"FPS", A::right},
                     {"LAST-SEQ", A::right},
                     {"AGE", A::right},
                     {"WRITER"},
                     {"READERS", A::right},
                     {"STATE"}});
    for (const ListedSegment& entry : listed) {
        if (!entry.view) {
            table.add_row({printable(entry.name), "-", "-", "-", "-", "-", "-", "-",
                           fmt::format("{} ({})", error_state(*entry.error),
                                       printable(entry.error->message))});
            continue;
        }
        const SegmentView& v = *entry.view;
        const SlotView* newest = newest_frame(v);
        const std::uint32_t dead = dead_reader_count(v);
        table.add_row({
            entry.name,
            newest != nullptr ? frame_size(newest->format) : "-",
            std::to_string(v.slot_count),
            entry.fps ? fmt::format("{:.1f}", *entry.fps) : "-",
            std::to_string(v.latest_sequence),
            duration_text(newest_age(entry)),
            fmt::format("{} {}", v.writer_pid, v.writer_alive ? "alive" : "dead"),
            dead > 0 ? fmt::format("{} (+{} dead)", live_reader_count(v), dead)
                     : std::to_string(live_reader_count(v)),
            health_name(v, entry.taken_ns),
        });
    }
    if (table.empty()) {
        app::print(stdout, "no framebus segments in {}\n", kShmDirectory);
        return;
    }
    app::print(stdout, "{}", table.render());
}

}  // namespace

int run_ls(const LsOptions& options) {
    std::vector<ListedSegment> listed = list_and_inspect();
    sample_fps(listed, options.sample_seconds);
    if (options.json)
        app::print(stdout, "{}", to_text(ls_document(listed, options.sample_seconds)));
    else
        print_table(listed);
    return kExitOk;
}

}  // namespace framebus::cli
