#include "segment_json.hpp"

#include <chrono>
#include <cmath>
#include <thread>

#include "framebus/name.hpp"
#include "segment_facts.hpp"

namespace framebus::cli {

using nlohmann::ordered_json;

namespace {

bool publishing(const ListedSegment& entry) {
    return entry.view && entry.view->writer_alive &&
           entry.view->writer_state == layout::WriterState::live;
}

template <class T>
ordered_json or_null(const std::optional<T>& value) {
    return value ? ordered_json(*value) : ordered_json(nullptr);
}

std::optional<std::int64_t> newest_age(const ListedSegment& entry) {
    const SlotView* newest = newest_frame(*entry.view);
    if (newest == nullptr) return std::nullopt;
    return entry.taken_ns - newest->publish_ns;
}

// Every field of a segment in `ls` after `error`, in order: they are all
// present (null when unknown) whatever the segment's state.
// clang-format off
constexpr const char* kLsSegmentFields[] = {
    "width", "height", "pixel_format", "cv_type", "stride", "planes", "slots", "slot_capacity",
    "max_readers", "leases_per_reader", "fps", "last_sequence", "newest_frame_age_ns",
    "frames_published", "frames_dropped", "writer_pid", "writer_alive", "writer_state",
    "readers_attached", "readers_dead", "created_realtime_ns"};
// clang-format on
// The fields that describe a frame, null while there is none.
constexpr const char* kFrameFields[] = {"width",   "height", "pixel_format",
                                        "cv_type", "stride", "planes"};

// [{"offset": ..., "stride": ...}, ...]: where each plane starts in the slot.
ordered_json planes_of(const FrameFormat& format) {
    ordered_json planes = ordered_json::array();
    for (std::uint32_t p = 0; p < format.plane_count && p < kMaxPlanes; ++p)
        planes.push_back(
            {{"offset", format.planes[p].offset}, {"stride", format.planes[p].stride}});
    return planes;
}

// The frame's description, the same in ls (newest frame) and info (each slot).
void describe_frame(ordered_json& out, const FrameFormat& format) {
    out["width"] = format.width;
    out["height"] = format.height;
    out["pixel_format"] = to_string(format.pixel_format);
    out["cv_type"] = format.cv_type;
    out["stride"] = format.stride();
    out["planes"] = planes_of(format);
}

ordered_json ls_segment(const ListedSegment& entry) {
    ordered_json s;
    s["name"] = entry.name;
    s["path"] = segment_path(entry.name);
    if (!entry.view) {
        s["state"] = error_state(*entry.error);
        s["error"] = entry.error->message;
        for (const char* key : kLsSegmentFields) s[key] = nullptr;
        return s;
    }
    const SegmentView& v = *entry.view;
    s["state"] = health_name(v, entry.taken_ns);
    s["error"] = nullptr;
    if (const SlotView* newest = newest_frame(v)) {
        describe_frame(s, newest->format);
    } else {
        for (const char* key : kFrameFields) s[key] = nullptr;
    }
    s["slots"] = v.slot_count;
    s["slot_capacity"] = v.slot_capacity;
    s["max_readers"] = v.max_readers;
    s["leases_per_reader"] = v.leases_per_reader;
    // Two decimals: more would be noise from the clocks.
    s["fps"] = entry.fps && std::isfinite(*entry.fps)
                   ? ordered_json(std::round(*entry.fps * 100) / 100)
                   : ordered_json(nullptr);
    s["last_sequence"] = v.latest_sequence;
    s["newest_frame_age_ns"] = or_null(newest_age(entry));
    s["frames_published"] = v.frames_published;
    s["frames_dropped"] = v.frames_dropped;
    s["writer_pid"] = v.writer_pid;
    s["writer_alive"] = v.writer_alive;
    s["writer_state"] = writer_state_name(v.writer_state);
    s["readers_attached"] = live_reader_count(v);
    s["readers_dead"] = dead_reader_count(v);
    s["created_realtime_ns"] = v.created_realtime_ns;
    return s;
}

ordered_json info_slot(const SlotView& slot, std::int64_t now) {
    ordered_json s;
    s["index"] = slot.index;
    s["sequence"] = slot.sequence;
    s["state"] = slot_state(slot);
    if (!slot.writing && slot.sequence != 0) {
        describe_frame(s, slot.format);
        s["bytes"] = slot.format.bytes();
        s["capture_ns"] = slot.capture_ns;
        s["publish_ns"] = slot.publish_ns;
        s["age_ns"] = now - slot.publish_ns;
    } else {
        for (const char* key : kFrameFields) s[key] = nullptr;
        for (const char* key : {"bytes", "capture_ns", "publish_ns", "age_ns"}) s[key] = nullptr;
    }
    ordered_json holders = ordered_json::array();
    for (std::uint32_t r = 0; r < 64; ++r)
        if (slot.holders >> r & 1) holders.push_back(r);
    s["holders"] = std::move(holders);
    return s;
}

ordered_json info_reader(const ReaderView& r, const std::vector<SlotView>& slots) {
    ordered_json out;
    out["index"] = r.index;
    out["pid"] = r.pid;
    out["alive"] = r.alive;
    out["start_time"] = r.start_time;
    out["last_sequence"] = r.last_sequence;
    out["frames"] = r.frames;
    out["skipped"] = r.skipped;
    out["held_slot"] = r.held_slot >= 0 ? ordered_json(r.held_slot) : ordered_json(nullptr);
    // A reader may hold up to leases_per_reader leases: every slot it holds.
    ordered_json held = ordered_json::array();
    for (const SlotView& slot : slots)
        if (r.index < 64 && (slot.holders >> r.index & 1)) held.push_back(slot.index);
    out["held_slots"] = std::move(held);
    return out;
}

}  // namespace

const char* error_state(const Error& error) {
    switch (error.code) {
        case Errc::version_mismatch:
            return "incompatible";
        case Errc::corrupt:
        case Errc::not_framebus:
            return "corrupt";
        default:
            return "unreadable";
    }
}

std::vector<ListedSegment> list_and_inspect() {
    std::vector<ListedSegment> listed;
    for (const std::string& name : list_segments()) {
        ListedSegment entry;
        entry.name = name;
        auto view = inspect(name);
        entry.taken_ns = now_ns();
        if (view) {
            entry.fps = ring_fps(*view, entry.taken_ns);
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

void sample_fps(std::vector<ListedSegment>& listed, double sample_seconds) {
    if (sample_seconds <= 0) return;
    bool any_publishing = false;
    for (const ListedSegment& entry : listed) any_publishing = any_publishing || publishing(entry);
    if (any_publishing)  // the measurement window, not a synchronisation
        std::this_thread::sleep_for(std::chrono::duration<double>(sample_seconds));
    for (ListedSegment& entry : listed) {
        if (!entry.view) continue;
        if (!publishing(entry)) {
            entry.fps = 0.0;
            continue;
        }
        auto later = inspect(entry.name);
        const std::int64_t later_ns = now_ns();
        if (!later) {  // gone or broken since: keep the first snapshot, fps unknown
            entry.fps.reset();
            continue;
        }
        entry.fps = sampled_fps(*entry.view, entry.taken_ns, *later, later_ns);
        entry.view = std::move(*later);
        entry.taken_ns = later_ns;
    }
}

ordered_json ls_document(const std::vector<ListedSegment>& listed, double sample_seconds) {
    ordered_json doc;
    doc["schema"] = "framebus.ls/2";
    doc["fps_source"] = sample_seconds > 0 ? "sample" : "ring";
    doc["sample_seconds"] = sample_seconds > 0 ? sample_seconds : 0.0;
    ordered_json segments = ordered_json::array();
    for (const ListedSegment& entry : listed) segments.push_back(ls_segment(entry));
    doc["segments"] = std::move(segments);
    return doc;
}

ordered_json info_document(const SegmentView& v, std::int64_t now) {
    ordered_json doc;
    doc["schema"] = "framebus.info/2";
    doc["name"] = v.name;
    doc["path"] = segment_path(v.name);
    doc["state"] = health_name(v, now);
    doc["layout_version"] = v.layout_version;
    doc["total_size"] = v.total_size;
    doc["data_offset"] = v.data_offset;
    doc["slot_stride"] = v.slot_stride;
    doc["slot_capacity"] = v.slot_capacity;
    doc["slot_count"] = v.slot_count;
    doc["max_readers"] = v.max_readers;
    doc["leases_per_reader"] = v.leases_per_reader;
    doc["created_realtime_ns"] = v.created_realtime_ns;
    doc["created"] = utc_time_text(v.created_realtime_ns);
    doc["mode"] = mode_text(v.mode);
    doc["owner_uid"] = v.owner_uid;
    doc["writer"] = {{"pid", v.writer_pid},
                     {"start_time", v.writer_start_time},
                     {"alive", v.writer_alive},
                     {"state", writer_state_name(v.writer_state)}};
    doc["latest_sequence"] = v.latest_sequence;
    doc["latest_slot"] = v.latest_sequence != 0 && !v.latest_rewriting ? ordered_json(v.latest_slot)
                                                                       : ordered_json(nullptr);
    doc["heartbeat_age_ns"] = now - v.heartbeat_ns;
    doc["frames_published"] = v.frames_published;
    doc["frames_dropped"] = v.frames_dropped;
    doc["waiters"] = v.waiters;
    ordered_json slots = ordered_json::array();
    for (const SlotView& slot : v.slots) slots.push_back(info_slot(slot, now));
    doc["slots"] = std::move(slots);
    ordered_json readers = ordered_json::array();
    for (const ReaderView& r : v.readers) readers.push_back(info_reader(r, v.slots));
    doc["readers"] = std::move(readers);
    return doc;
}

std::string to_text(const ordered_json& document) {
    return document.dump(2, ' ', false, ordered_json::error_handler_t::replace) + '\n';
}

}  // namespace framebus::cli
