// `framebus ls`: one line per segment found by its magic in /dev/shm.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <optional>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "framebus/inspect.hpp"
#include "framebus/name.hpp"
#include "json_writer.hpp"
#include "segment_facts.hpp"
#include "text_table.hpp"

namespace framebus::cli {

namespace {

// One segment as ls reports it: a valid snapshot, or why it is not one.
struct Listed {
    std::string name;
    std::optional<SegmentView> view;
    std::optional<Error> error;
    std::int64_t taken_ns = 0;  // when the snapshot was taken (steady clock)
    std::optional<double> fps;
};

// "corrupt" for segments that fail validation, "unreadable" for errors that
// say nothing about the segment itself (permissions, I/O).
const char* error_state(const Error& error) {
    switch (error.code) {
        case Errc::corrupt:
        case Errc::version_mismatch:
        case Errc::not_framebus:
            return "corrupt";
        default:
            return "unreadable";
    }
}

std::vector<Listed> snapshot_all() {
    std::vector<Listed> listed;
    for (const std::string& name : list_segments()) {
        Listed entry;
        entry.name = name;
        auto view = inspect(name);
        entry.taken_ns = now_ns();
        if (view) {
            entry.view = std::move(*view);
        } else if (view.error().code == Errc::not_found) {
            continue;  // removed since it was listed
        } else {
            entry.error = view.error();
        }
        listed.push_back(std::move(entry));
    }
    return listed;
}

bool publishing(const Listed& entry) {
    return entry.view && entry.view->writer_alive &&
           entry.view->writer_state == layout::WriterState::live;
}

void measure_fps(std::vector<Listed>& listed, double sample_seconds) {
    if (sample_seconds <= 0) {
        for (Listed& entry : listed)
            if (entry.view) entry.fps = ring_fps(*entry.view, entry.taken_ns);
        return;
    }
    bool any_publishing = false;
    for (const Listed& entry : listed) any_publishing = any_publishing || publishing(entry);
    if (any_publishing)  // the measurement window, not a synchronisation
        std::this_thread::sleep_for(std::chrono::duration<double>(sample_seconds));
    for (Listed& entry : listed) {
        if (!entry.view) continue;
        if (!publishing(entry)) {
            entry.fps = 0.0;
            continue;
        }
        auto later = inspect(entry.name);
        const std::int64_t later_ns = now_ns();
        if (!later) continue;  // gone or broken since: keep the first snapshot, fps unknown
        entry.fps = sampled_fps(*entry.view, entry.taken_ns, *later, later_ns);
        entry.view = std::move(*later);
        entry.taken_ns = later_ns;
    }
}

std::optional<std::int64_t> newest_age(const Listed& entry) {
    const SlotView* newest = newest_frame(*entry.view);
    if (newest == nullptr) return std::nullopt;
    return entry.taken_ns - newest->publish_ns;
}

void print_json(const std::vector<Listed>& listed, double sample_seconds) {
    JsonWriter json;
    json.begin_object();
    json.field("schema", "framebus.ls/1");
    json.field("fps_source", sample_seconds > 0 ? "sample" : "ring");
    json.field("sample_seconds", sample_seconds > 0 ? sample_seconds : 0.0);
    json.key("segments").begin_array();
    for (const Listed& entry : listed) {
        json.begin_object();
        json.field("name", entry.name);
        json.field("path", segment_path(entry.name));
        if (!entry.view) {
            json.field("state", error_state(*entry.error));
            json.field("error", entry.error->message);
            for (const char* key :
                 {"width", "height", "pixel_format", "cv_type", "stride", "slots", "slot_capacity",
                  "max_readers", "fps", "last_sequence", "newest_frame_age_ns", "frames_published",
                  "frames_dropped", "writer_pid", "writer_alive", "writer_state",
                  "readers_attached", "readers_dead", "created_realtime_ns"})
                json.key(key).null();
            json.end_object();
            continue;
        }
        const SegmentView& v = *entry.view;
        const SlotView* newest = newest_frame(v);
        json.field("state", health_name(v, entry.taken_ns));
        json.key("error").null();
        if (newest != nullptr) {
            json.field("width", newest->format.width);
            json.field("height", newest->format.height);
            json.field("pixel_format", to_string(newest->format.pixel_format));
            json.field("cv_type", newest->format.cv_type);
            json.field("stride", newest->format.stride());
        } else {
            for (const char* key : {"width", "height", "pixel_format", "cv_type", "stride"})
                json.key(key).null();
        }
        json.field("slots", v.slot_count);
        json.field("slot_capacity", v.slot_capacity);
        json.field("max_readers", v.max_readers);
        // Two decimals: more would be noise from the clocks.
        json.field("fps", entry.fps ? std::optional<double>(std::round(*entry.fps * 100) / 100)
                                    : std::nullopt);
        json.field("last_sequence", v.latest_sequence);
        json.field("newest_frame_age_ns", newest_age(entry));
        json.field("frames_published", v.frames_published);
        json.field("frames_dropped", v.frames_dropped);
        json.field("writer_pid", v.writer_pid);
        json.field("writer_alive", v.writer_alive);
        json.field("writer_state", writer_state_name(v.writer_state));
        json.field("readers_attached", live_reader_count(v));
        json.field("readers_dead", dead_reader_count(v));
        json.field("created_realtime_ns", v.created_realtime_ns);
        json.end_object();
    }
    json.end_array();
    json.end_object();
    fmt::print("{}", json.str());
}

void print_table(const std::vector<Listed>& listed) {
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
    for (const Listed& entry : listed) {
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
        fmt::print("no framebus segments in {}\n", kShmDirectory);
        return;
    }
    fmt::print("{}", table.render());
}

}  // namespace

int run_ls(const LsOptions& options) {
    std::vector<Listed> listed = snapshot_all();
    measure_fps(listed, options.sample_seconds);
    if (options.json)
        print_json(listed, options.sample_seconds);
    else
        print_table(listed);
    return kExitOk;
}

}  // namespace framebus::cli
