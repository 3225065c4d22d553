// Read-only inspection for tools and tests. Every byte read here comes from a
// private snapshot and is bounds-checked: a corrupt segment is an error value.
#include "framebus/inspect.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "framebus/detail/segment.hpp"
#include "framebus/detail/sys.hpp"
#include "framebus/name.hpp"

namespace framebus {

using detail::load_field;
using layout::ReaderEntry;
using layout::SegmentHeader;
using layout::SlotHeader;

Result<SegmentView> parse_segment(std::span<const std::byte> bytes, std::uint64_t object_size) {
    auto geometry = detail::read_header(bytes, object_size, "segment");
    if (!geometry) return geometry.error();
    const detail::Geometry& g = *geometry;
    auto corrupt = [&](const std::string& why) {
        return Error{Errc::corrupt, "segment '" + g.name + "' is corrupt: " + why};
    };
    if (bytes.size() < g.data_offset) return corrupt("control region truncated");

    SegmentView v;
    v.name = g.name;
    v.layout_version = g.layout_version;
    v.total_size = g.total_size;
    v.data_offset = g.data_offset;
    v.slot_stride = g.slot_stride;
    v.slot_capacity = g.slot_capacity;
    v.slot_count = g.slot_count;
    v.max_readers = g.max_readers;
    v.leases_per_reader = g.leases_per_reader;
    v.created_realtime_ns = g.created_realtime_ns;
    v.mode = g.mode;
    v.owner_uid = g.owner_uid;
    v.writer_pid = g.writer_pid;
    v.writer_start_time = g.writer_start_time;

    const std::uint32_t state =
        load_field<std::uint32_t>(bytes, offsetof(SegmentHeader, writer_state));
    if (state > static_cast<std::uint32_t>(layout::WriterState::replaced))
        return corrupt("unknown writer state " + std::to_string(state));
    v.writer_state = static_cast<layout::WriterState>(state);
    const std::uint64_t latest = load_field<std::uint64_t>(bytes, offsetof(SegmentHeader, latest));
    v.latest_sequence = layout::latest_sequence(latest);
    v.latest_slot = layout::latest_slot(latest);
    v.latest_rewriting = latest != 0 && v.latest_slot == layout::kRewritingSlot;
    if (latest != 0 && !v.latest_rewriting && v.latest_slot >= g.slot_count)
        return corrupt("latest points past the slots");
    v.heartbeat_ns = load_field<std::int64_t>(bytes, offsetof(SegmentHeader, heartbeat_ns));
    if (!plausible_timestamp(v.heartbeat_ns)) return corrupt("heartbeat off the clock");
    v.frames_published = v.latest_sequence;
    v.frames_dropped = load_field<std::uint64_t>(bytes, offsetof(SegmentHeader, frames_dropped));
    v.waiters = load_field<std::uint32_t>(bytes, offsetof(SegmentHeader, waiters));
    v.writer_idle = load_field<std::uint32_t>(bytes, offsetof(SegmentHeader, writer_idle)) != 0;

    std::uint64_t held_any = 0;
    for (std::uint32_t i = 0; i < g.slot_count; ++i) {
        const std::size_t base = layout::slots_offset() + std::size_t{i} * sizeof(SlotHeader);
        SlotView s;
        s.index = i;
        const std::uint64_t st =
            load_field<std::uint64_t>(bytes, base + offsetof(SlotHeader, state));
        s.sequence = st >> 1;
        s.writing = (st & layout::kWriting) != 0;
        s.holders = load_field<std::uint64_t>(bytes, base + offsetof(SlotHeader, holders));
        if ((s.holders >> (g.max_readers - 1)) > 1)  // bits past max_readers
            return corrupt("slot " + std::to_string(i) + " is held by a reader that cannot exist");
        held_any |= s.holders;
        if (st != 0 && !s.writing) {
            FrameFormat& f = s.format;
            f.width = load_field<std::uint32_t>(bytes, base + offsetof(SlotHeader, width));
            f.height = load_field<std::uint32_t>(bytes, base + offsetof(SlotHeader, height));
            f.cv_type = load_field<std::int32_t>(bytes, base + offsetof(SlotHeader, cv_type));
            const auto pf =
                load_field<std::uint32_t>(bytes, base + offsetof(SlotHeader, pixel_format));
            f.pixel_format = static_cast<PixelFormat>(pf);  // frame_fits checks the range
            f.plane_count =
                load_field<std::uint32_t>(bytes, base + offsetof(SlotHeader, plane_count));
            for (std::uint32_t p = 0; p < kMaxPlanes; ++p) {
                const std::size_t plane =
                    base + offsetof(SlotHeader, planes) + p * sizeof(SlotHeader::PlaneLayout);
                f.planes[p].offset = load_field<std::uint64_t>(
                    bytes, plane + offsetof(SlotHeader::PlaneLayout, offset));
                f.planes[p].stride = load_field<std::uint64_t>(
                    bytes, plane + offsetof(SlotHeader::PlaneLayout, stride));
            }
            const auto frame_bytes =
                load_field<std::uint64_t>(bytes, base + offsetof(SlotHeader, bytes));
            if (!frame_fits(f, g.slot_capacity) || frame_bytes != f.bytes())
                return corrupt("slot " + std::to_string(i) +
                               " describes a frame that does not fit it");
            s.capture_ns = load_field<std::int64_t>(bytes, base + offsetof(SlotHeader, capture_ns));
            s.publish_ns = load_field<std::int64_t>(bytes, base + offsetof(SlotHeader, publish_ns));
            if (!plausible_timestamp(s.capture_ns) || !plausible_timestamp(s.publish_ns))
                return corrupt("slot " + std::to_string(i) + " has a timestamp off the clock");
        }
        v.slots.push_back(s);
    }

    for (std::uint32_t r = 0; r < g.max_readers; ++r) {
        const std::size_t base =
            layout::readers_offset(g.slot_count) + std::size_t{r} * sizeof(ReaderEntry);
        ReaderView rv;
        rv.index = r;
        rv.pid = load_field<std::uint32_t>(bytes, base + offsetof(ReaderEntry, pid));
        const std::uint64_t bit = std::uint64_t{1} << r;
        if (rv.pid == 0 && (held_any & bit) == 0) continue;
        rv.start_time = load_field<std::uint64_t>(bytes, base + offsetof(ReaderEntry, start_time));
        rv.last_sequence =
            load_field<std::uint64_t>(bytes, base + offsetof(ReaderEntry, last_sequence));
        rv.frames = load_field<std::uint64_t>(bytes, base + offsetof(ReaderEntry, frames));
        rv.skipped = load_field<std::uint64_t>(bytes, base + offsetof(ReaderEntry, skipped));
        for (const SlotView& s : v.slots)
            if (s.holders & bit) rv.held_slot = static_cast<int>(s.index);
        v.readers.push_back(rv);
    }
    return v;
}

namespace {
// Opens `name` read-only and returns a private snapshot of its control region.
struct Snapshot {
    detail::SegmentFile file;
    detail::Geometry geometry;
    std::vector<std::byte> bytes;
};

Result<Snapshot> snapshot(const std::string& name, detail::SegmentFile::Access access) {
    if (auto st = validate_name(name); !st) return st.error();
    Snapshot snap;
    auto file = detail::SegmentFile::open(name, access);
    if (!file) {
        if (file.error().code == Errc::not_found)
            return Error{Errc::not_found, "no segment named '" + name + "'"};
        return file.error();
    }
    snap.file = std::move(*file);
    auto prefix = snap.file.read_prefix(sizeof(SegmentHeader));
    if (!prefix) return prefix.error();
    auto geometry = detail::read_header(std::as_bytes(std::span(prefix->data(), prefix->size())),
                                        snap.file.size(), segment_path(name));
    if (!geometry) return geometry.error();
    snap.geometry = std::move(*geometry);
    // pread, not a mapping: a segment truncated under us gives a short read
    // (and a validation error), never a SIGBUS.
    auto control = snap.file.read_prefix(snap.geometry.data_offset);
    if (!control) return control.error();
    snap.bytes.resize(control->size());
    std::memcpy(snap.bytes.data(), control->data(), control->size());
    return snap;
}
}  // namespace

namespace {
std::uint64_t slot_state(const std::vector<std::byte>& bytes, std::uint32_t i) {
    const std::size_t at =
        layout::slots_offset() + std::size_t{i} * sizeof(SlotHeader) + offsetof(SlotHeader, state);
    return at + sizeof(std::uint64_t) <= bytes.size()
               ? load_field<std::uint64_t>(std::span<const std::byte>(bytes), at)
               : 0;
}
}  // namespace

Result<SegmentView> inspect(const std::string& name) {
    // A seqlock reader: the description of slot i is read (in `middle`)
    // between two reads of its state (`before`, `after`). The writer marks a
    // slot WRITING before it touches the description, and a committed
    // sequence never comes back, so an unchanged committed state around the
    // read means the description read is the one committed with it.
    constexpr int kAttempts = 5;
    Result<SegmentView> view = Error{Errc::corrupt, "not read"};
    Result<Snapshot> middle = Error{Errc::corrupt, "not read"};
    std::vector<std::uint32_t> changing;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        auto before = snapshot(name, detail::SegmentFile::Access::read_only);
        if (!before) return before.error();
        middle = snapshot(name, detail::SegmentFile::Access::read_only);
        if (!middle) return middle.error();
        auto after = snapshot(name, detail::SegmentFile::Access::read_only);
        if (!after) return after.error();
        changing.clear();
        for (std::uint32_t i = 0; i < middle->geometry.slot_count; ++i) {
            const std::uint64_t state = slot_state(middle->bytes, i);
            if (slot_state(before->bytes, i) != state || slot_state(after->bytes, i) != state)
                changing.push_back(i);
        }
        view = parse_segment(middle->bytes, middle->file.size());
        if (changing.empty()) break;  // consistent: whatever parse said is the truth
    }
    if (!view) {
        Error e = view.error();
        e.message = segment_path(name) + ": " + e.message;
        return e;
    }
    // Slots that kept changing under us: their description is not known.
    for (std::uint32_t i : changing) {
        SlotView& s = view->slots[i];
        s.writing = true;
        s.format = FrameFormat{};
        s.capture_ns = s.publish_ns = 0;
    }
    view->name = name;
    view->writer_alive = detail::writer_alive(middle->file.fd(), middle->geometry);
    for (ReaderView& r : view->readers)
        r.alive =
            r.pid != 0 && sys::probe_lock(middle->file.fd(), layout::reader_lock_byte(r.index)) ==
                              sys::LockProbe::locked;
    return view;
}

std::vector<std::string> list_segments() {
    std::vector<std::string> names;
    sys::Directory dir{std::string(kShmDirectory)};
    for (std::string name = dir.next(); !name.empty(); name = dir.next()) {
        if (!validate_name(name)) continue;  // ours are always valid names (no temporaries)
        const int fd = sys::open_in(dir.fd(), name);
        if (fd < 0) continue;
        std::uint64_t magic = 0;
        struct stat st {};
        if (sys::fstat(fd, st) == 0 && S_ISREG(st.st_mode) &&
            sys::pread_full(fd, &magic, sizeof magic, 0) == sizeof magic && magic == layout::kMagic)
            names.push_back(name);
        sys::close_fd(fd);
    }
    std::sort(names.begin(), names.end());
    return names;
}

namespace {
bool is_temporary(const std::string& name) {
    return name.rfind(kTemporaryPrefix, 0) == 0;
}

// A temporary is orphaned when nobody holds its writer lock.
bool temporary_is_orphaned(int dir_fd, const std::string& name) {
    const int fd = sys::open_in(dir_fd, name);
    if (fd < 0) return false;
    struct stat st {};
    const bool orphaned = sys::fstat(fd, st) == 0 && S_ISREG(st.st_mode) &&
                          sys::probe_lock(fd, layout::kWriterLockByte) == sys::LockProbe::unlocked;
    sys::close_fd(fd);
    return orphaned;
}
}  // namespace

std::vector<std::string> orphaned_temporaries() {
    std::vector<std::string> names;
    sys::Directory dir{std::string(kShmDirectory)};
    for (std::string name = dir.next(); !name.empty(); name = dir.next())
        if (is_temporary(name) && temporary_is_orphaned(dir.fd(), name)) names.push_back(name);
    std::sort(names.begin(), names.end());
    return names;
}

Status remove_orphaned_temporary(const std::string& temporary_name) {
    if (!is_temporary(temporary_name) || temporary_name.find('/') != std::string::npos)
        return Error{Errc::invalid_name, "'" + temporary_name + "' is not a framebus temporary"};
    sys::Directory dir{std::string(kShmDirectory)};
    if (dir.error() != 0) return sys::error_from_errno(dir.error(), std::string(kShmDirectory));
    if (!temporary_is_orphaned(dir.fd(), temporary_name))
        return Error{Errc::live_writer,
                     segment_path(temporary_name) + " is being built by a live writer"};
    if (int err = sys::shm_unlink(temporary_name); err != 0)
        return sys::error_from_errno(err, segment_path(temporary_name));
    return ok_status();
}

const char* to_string(SegmentHealth health) {
    switch (health) {
        case SegmentHealth::live:
            return "live";
        case SegmentHealth::stalled:
            return "stalled";
        case SegmentHealth::idle:
            return "idle";
        case SegmentHealth::end_of_stream:
            return "end-of-stream";
        case SegmentHealth::stale:
            return "stale";
    }
    return "unknown";
}

SegmentHealth health_of(const SegmentView& view, std::int64_t now, std::int64_t stall_ns) {
    if (!view.writer_alive) return SegmentHealth::stale;
    if (view.writer_state == layout::WriterState::end_of_stream)
        return SegmentHealth::end_of_stream;
    if (view.writer_state == layout::WriterState::replaced) return SegmentHealth::stale;
    if (view.writer_idle) return SegmentHealth::idle;  // it keeps its heartbeat meanwhile
    // Unsigned: a view not made by parse_segment may hold any timestamp.
    if (view.heartbeat_ns<now&& static_cast<std::uint64_t>(now) -
                          static_cast<std::uint64_t>(
                              view.heartbeat_ns)> static_cast<std::uint64_t>(stall_ns))
        return SegmentHealth::stalled;
    return SegmentHealth::live;
}

Result<std::size_t> reclaim_dead_readers(const std::string& name) {
    auto snap = snapshot(name, detail::SegmentFile::Access::read_write);
    if (!snap) return snap.error();
    if (auto view = parse_segment(snap->bytes, snap->file.size()); !view) return view.error();
    auto mapping = detail::Mapping::map(snap->file, true, 0, snap->geometry.data_offset);
    if (!mapping) return mapping.error();
    return detail::reclaim_dead_readers(
        snap->file.fd(), detail::control_view(mapping->data(), snap->geometry.slot_count),
        snap->geometry);
}

Status remove_segment(const std::string& name, bool force) {
    auto snap = snapshot(name, detail::SegmentFile::Access::read_only);
    if (!snap) {
        // A corrupt framebus segment may go, but only when asked by force.
        const Errc code = snap.error().code;
        if (!(force && (code == Errc::corrupt || code == Errc::version_mismatch)))
            return snap.error();
    } else if (!force && detail::writer_alive(snap->file.fd(), snap->geometry)) {
        return Error{Errc::live_writer, "segment '" + name + "' has a live writer (pid " +
                                            std::to_string(snap->geometry.writer_pid) + ")"};
    }
    if (int err = sys::shm_unlink(name); err != 0)
        return sys::error_from_errno(err, segment_path(name));
    return ok_status();
}

}  // namespace framebus
