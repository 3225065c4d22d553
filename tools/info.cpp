// `framebus info NAME`: everything the header, the slots and the reader table say.
#include <fmt/format.h>

#include <chrono>

#include "commands.hpp"
#include "framebus/inspect.hpp"
#include "framebus/name.hpp"
#include "json_writer.hpp"
#include "segment_facts.hpp"
#include "text_table.hpp"

namespace framebus::cli {

namespace {

void print_json(const SegmentView& v, std::int64_t now) {
    JsonWriter json;
    json.begin_object();
    json.field("schema", "framebus.info/1");
    json.field("name", v.name);
    json.field("path", segment_path(v.name));
    json.field("state", health_name(v, now));
    json.field("layout_version", v.layout_version);
    json.field("total_size", v.total_size);
    json.field("data_offset", v.data_offset);
    json.field("slot_stride", v.slot_stride);
    json.field("slot_capacity", v.slot_capacity);
    json.field("slot_count", v.slot_count);
    json.field("max_readers", v.max_readers);
    json.field("created_realtime_ns", v.created_realtime_ns);
    json.field("created", utc_time_text(v.created_realtime_ns));
    json.field("mode", mode_text(v.mode));
    json.field("owner_uid", v.owner_uid);

    json.key("writer").begin_object();
    json.field("pid", v.writer_pid);
    json.field("start_time", v.writer_start_time);
    json.field("alive", v.writer_alive);
    json.field("state", writer_state_name(v.writer_state));
    json.end_object();

    json.field("latest_sequence", v.latest_sequence);
    json.field("latest_slot",
               v.latest_sequence != 0 ? std::optional<std::uint32_t>(v.latest_slot) : std::nullopt);
    json.field("heartbeat_age_ns", now - v.heartbeat_ns);
    json.field("frames_published", v.frames_published);
    json.field("frames_dropped", v.frames_dropped);
    json.field("waiters", v.waiters);

    json.key("slots").begin_array();
    for (const SlotView& s : v.slots) {
        const bool committed = !s.writing && s.sequence != 0;
        json.begin_object();
        json.field("index", s.index);
        json.field("sequence", s.sequence);
        json.field("state", slot_state(s));
        if (committed) {
            json.field("width", s.format.width);
            json.field("height", s.format.height);
            json.field("pixel_format", to_string(s.format.pixel_format));
            json.field("cv_type", s.format.cv_type);
            json.field("stride", s.format.stride());
            json.field("bytes", s.format.bytes());
            json.field("capture_ns", s.capture_ns);
            json.field("publish_ns", s.publish_ns);
            json.field("age_ns", now - s.publish_ns);
        } else {
            for (const char* key : {"width", "height", "pixel_format", "cv_type", "stride", "bytes",
                                    "capture_ns", "publish_ns", "age_ns"})
                json.key(key).null();
        }
        json.key("holders").begin_array();
        for (std::uint32_t r = 0; r < 64; ++r)
            if (s.holders >> r & 1) json.value(r);
        json.end_array();
        json.end_object();
    }
    json.end_array();

    json.key("readers").begin_array();
    for (const ReaderView& r : v.readers) {
        json.begin_object();
        json.field("index", r.index);
        json.field("pid", r.pid);
        json.field("alive", r.alive);
        json.field("start_time", r.start_time);
        json.field("last_sequence", r.last_sequence);
        json.field("frames", r.frames);
        json.field("skipped", r.skipped);
        json.field("held_slot", r.held_slot >= 0 ? std::optional<int>(r.held_slot) : std::nullopt);
        json.end_object();
    }
    json.end_array();
    json.end_object();
    fmt::print("{}", json.str());
}

void print_text(const SegmentView& v, std::int64_t now) {
    const std::int64_t wall_now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
    fmt::print("segment      {} ({})\n", v.name, segment_path(v.name));
    fmt::print("state        {}\n", health_name(v, now));
    fmt::print("layout       version {}, {} bytes, slot data at offset {}\n", v.layout_version,
               v.total_size, v.data_offset);
    fmt::print("slots        {} x {} bytes capacity, stride {}\n", v.slot_count, v.slot_capacity,
               v.slot_stride);
    fmt::print("max readers  {}\n", v.max_readers);
    fmt::print("created      {} ({} ago)\n", local_time_text(v.created_realtime_ns),
               duration_text(wall_now - v.created_realtime_ns));
    fmt::print("mode         {}, owner uid {}\n", mode_text(v.mode), v.owner_uid);
    std::string started = fmt::format("start time {} ticks", v.writer_start_time);
    if (auto at = process_start_realtime_ns(v.writer_start_time))
        started = fmt::format("started {}, {}", local_time_text(*at), started);
    fmt::print("writer       pid {}, {}, {}, {}\n", v.writer_pid, v.writer_alive ? "alive" : "dead",
               writer_state_name(v.writer_state), started);
    fmt::print("heartbeat    {} ago\n", duration_text(now - v.heartbeat_ns));
    fmt::print("frames       {} published, {} dropped, latest sequence {}", v.frames_published,
               v.frames_dropped, v.latest_sequence);
    if (v.latest_sequence != 0) fmt::print(" in slot {}", v.latest_slot);
    fmt::print("\nwaiters      {}\n\n", v.waiters);

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
    fmt::print("{}\n", slots.render());

    if (v.readers.empty()) {
        fmt::print("no readers attached\n");
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
    fmt::print("{}", readers.render());
}

}  // namespace

int run_info(const InfoOptions& options) {
    auto view = inspect(options.name);
    const std::int64_t now = now_ns();
    if (!view) return report_error(view.error());
    if (options.json)
        print_json(*view, now);
    else
        print_text(*view, now);
    return kExitOk;
}

}  // namespace framebus::cli
