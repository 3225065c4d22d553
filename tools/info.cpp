// `framebus info NAME`: everything the header, the slots and the reader table say.
#include <fmt/format.h>

#include <chrono>

#include "commands.hpp"
#include "framebus/inspect.hpp"
#include "framebus/name.hpp"
#include "segment_facts.hpp"
#include "segment_json.hpp"
#include "text_table.hpp"

namespace framebus::cli {

namespace {

void print_text(const SegmentView& v, std::int64_t now) {
    const std::int64_t wall_now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
    app::print(stdout, "segment      {} ({})\n", v.name, segment_path(v.name));
    app::print(stdout, "state        {}\n", health_name(v, now));
    app::print(stdout, "layout       version {}, {} bytes, slot data at offset {}\n",
               v.layout_version, v.total_size, v.data_offset);
    app::print(stdout, "slots        {} x {} bytes capacity, stride {}\n", v.slot_count,
               v.slot_capacity, v.slot_stride);
    app::print(stdout, "max readers  {}, {} lease{} each\n", v.max_readers, v.leases_per_reader,
               v.leases_per_reader == 1 ? "" : "s");
    app::print(stdout, "created      {} ({} ago)\n", local_time_text(v.created_realtime_ns),
               duration_text(wall_now - v.created_realtime_ns));
    app::print(stdout, "mode         {}, owner uid {}\n", mode_text(v.mode), v.owner_uid);
    std::string started = fmt::format("start time {} ticks", v.writer_start_time);
    if (auto at = process_start_realtime_ns(v.writer_start_time))
        started = fmt::format("started {}, {}", local_time_text(*at), started);
    app::print(stdout, "writer       pid {}, {}, {}, {}\n", v.writer_pid,
               v.writer_alive ? "alive" : "dead", writer_state_name(v.writer_state), started);
    app::print(stdout, "heartbeat    {} ago\n", duration_text(now - v.heartbeat_ns));
    app::print(stdout, "frames       {} published, {} dropped, latest sequence {}",
               v.frames_published, v.frames_dropped, v.latest_sequence);
    if (v.latest_rewriting)
        app::print(stdout, ", its slot being rewritten");
    else if (v.latest_sequence != 0)
        app::print(stdout, " in slot {}", v.latest_slot);
    app::print(stdout, "\nwaiters      {}\n\n", v.waiters);

    using A = TextTable::Align;
    TextTable slots({{"SLOT", A::right},
                     {"SEQUENCE", A::right},
                     {"STATE"},
                     {"FRAME"},
                     {"STRIDE", A::right},
                     {"AGE", A::right},
                     {"HOLDERS"}});
    for (const SlotView& s : v.slots) {
        const bool committed = !s.writing && s.sequence != 0;
        slots.add_row({std::to_string(s.index), std::to_string(s.sequence), slot_state(s),
                       committed ? frame_size(s.format) : "-",
                       committed ? std::to_string(s.format.stride()) : "-",
                       committed ? duration_text(now - s.publish_ns) : "-",
                       holder_list(s.holders)});
    }
    app::print(stdout, "{}\n", slots.render());

    if (v.readers.empty()) {
        app::print(stdout, "no readers attached\n");
        return;
    }
    TextTable readers({{"READER", A::right},
                       {"PID", A::right},
                       {"ALIVE"},
                       {"LAST-SEQ", A::right},
                       {"FRAMES", A::right},
                       {"SKIPPED", A::right},
                       {"HELD-SLOT", A::right}});
    for (const ReaderView& r : v.readers)
        readers.add_row({std::to_string(r.index), std::to_string(r.pid), r.alive ? "yes" : "no",
                         std::to_string(r.last_sequence), std::to_string(r.frames),
                         std::to_string(r.skipped),
                         r.held_slot >= 0 ? std::to_string(r.held_slot) : "-"});
    app::print(stdout, "{}", readers.render());
}

}  // namespace

int run_info(const InfoOptions& options) {
    auto view = inspect(options.name);
    const std::int64_t now = now_ns();
    if (!view) return report_error(view.error());
    if (options.json)
        app::print(stdout, "{}", to_text(info_document(*view, now)));
    else
        print_text(*view, now);
    return kExitOk;
}

}  // namespace framebus::cli
