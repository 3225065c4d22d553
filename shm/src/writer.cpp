// The writer side. Protocol: shm/PROTOCOL.md ("Creating", "Writing a frame").
#include "framebus/writer.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <random>
#include <thread>
#include <utility>

#include "framebus/detail/segment.hpp"
#include "framebus/detail/sys.hpp"
#include "framebus/name.hpp"

namespace framebus {

using detail::ControlView;
using detail::Geometry;
using detail::Mapping;
using detail::SegmentFile;
using layout::SegmentHeader;
using layout::SlotHeader;
using layout::WriterState;

namespace detail {

namespace {

// A fully built segment under a temporary name, writer lock taken.
struct BuiltSegment {
    SegmentFile file;
    Mapping mapping;
    Geometry geometry;
    std::string temp_name;
};

std::atomic<std::uint32_t> g_temp_counter{0};
constexpr int kTemporaryAttempts = 8;

// 64 unguessable bits (getrandom, through std::random_device), in hex.
std::string random_hex() {
    std::random_device random;
    const std::uint64_t bits = (std::uint64_t{random()} << 32) | random();
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(bits));
    return text;
}

Result<BuiltSegment> build_segment(const std::string& name, const Geometry& planned,
                                   std::uint32_t mode) {
    BuiltSegment built;
    built.geometry = planned;
    // A leading '.' can never be a valid segment name, so no user collides.
    // The random part keeps anyone from creating our temporary first (a
    // squatter on a guessable name would make every start fail): O_EXCL
    // refuses a name that exists, and we draw another (PROTOCOL.md "Trust").
    Result<SegmentFile> file = Error{Errc::system, ""};
    for (int attempt = 0; attempt < kTemporaryAttempts; ++attempt) {
        built.temp_name = std::string(kTemporaryPrefix) + std::to_string(::getpid()) + "-" +
                          std::to_string(g_temp_counter.fetch_add(1, std::memory_order_relaxed)) +
                          "-" + random_hex() + "-" + name;
        file = SegmentFile::create(built.temp_name, mode & 0777);
        if (file || file.error().sys_errno != EEXIST) break;
    }
    if (!file) return file.error();
    built.file = std::move(*file);
    // From here on, any failure unlinks the half-made object.
    auto fail = [&](Error e) -> Result<BuiltSegment> {
        (void)sys::shm_unlink(built.temp_name);
        return e;
    };
    // Lock first: a temporary whose lock is free is an orphan (its builder
    // died) and `framebus clean` may remove it.
    if (int err = sys::try_lock(built.file.fd(), layout::kWriterLockByte); err != 0)
        return fail(sys::error_from_errno(err, "locking new segment '" + name + "'"));
    // Reserve every byte now: a full /dev/shm is an error here, not a SIGBUS later.
    if (int err = sys::fallocate(built.file.fd(), planned.total_size); err != 0)
        return fail(sys::error_from_errno(err, "reserving " + std::to_string(planned.total_size) +
                                                   " bytes for segment '" + name + "' in " +
                                                   std::string(kShmDirectory)));
    if (auto st = built.file.refresh_size(); !st) return fail(st.error());
    auto mapping = Mapping::map(built.file, true, 0, planned.total_size);
    if (!mapping) return fail(mapping.error());
    built.mapping = std::move(*mapping);

    // fallocate zeroed everything: all atomics start at 0 (empty slots, no
    // readers, no frame). Fill the write-once fields, then publish the version.
    auto* h = reinterpret_cast<SegmentHeader*>(built.mapping.data());
    h->magic = layout::kMagic;
    h->header_size = sizeof(SegmentHeader);
    h->total_size = planned.total_size;
    h->data_offset = planned.data_offset;
    h->slot_stride = planned.slot_stride;
    h->slot_capacity = planned.slot_capacity;
    h->slot_count = planned.slot_count;
    h->max_readers = planned.max_readers;
    h->leases_per_reader = planned.leases_per_reader;
    h->created_realtime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    h->mode = mode & 0777;
    h->owner_uid = ::getuid();
    h->writer_pid = static_cast<std::uint32_t>(::getpid());
    h->writer_start_time = sys::process_start_time(::getpid()).value_or(0);
    std::memcpy(h->name, name.data(), std::min(name.size(), layout::kMaxNameLength));
    h->heartbeat_ns.store(now_ns(), std::memory_order_relaxed);
    // Last, with release: validation reads the header with pread(), so this
    // orders our stores for any reader that maps it; for pread() the
    // kernel's page cache is one memory (PROTOCOL.md "Validation").
    h->layout_version.store(layout::kLayoutVersion, std::memory_order_release);

    built.geometry.created_realtime_ns = h->created_realtime_ns;
    built.geometry.mode = h->mode;
    built.geometry.owner_uid = h->owner_uid;
    built.geometry.writer_pid = h->writer_pid;
    built.geometry.writer_start_time = h->writer_start_time;
    built.geometry.name = name;
    return built;
}

// Tells readers of a segment we are leaving that it has been replaced.
void mark_replaced(SegmentHeader* header) {
    ControlView c;
    c.header = header;
    set_writer_state(c, WriterState::replaced);
}

// Puts a built segment under `name`. `current` is the segment this writer
// owns now (replacement) or nullptr (first creation or takeover).
Status install_segment(BuiltSegment& built, const std::string& name, SegmentFile* current) {
    const std::string final_path = segment_path(name);
    const std::string temp_path = segment_path(built.temp_name);
    auto fail = [&](Error e) -> Status {
        (void)sys::shm_unlink(built.temp_name);
        return e;
    };
    if (current != nullptr) {
        // We own the name: swap atomically; readers of the old one follow.
        if (int err = sys::rename(temp_path, final_path); err != 0)
            return fail(sys::error_from_errno(err, "replacing segment '" + name + "'"));
        return ok_status();
    }
    for (int attempt = 0; attempt < 100; ++attempt) {
        // Nothing there: link() creates the name only if it is still free.
        const int linked = sys::link(temp_path, final_path);
        if (linked == 0) {
            (void)sys::shm_unlink(built.temp_name);
            return ok_status();
        }
        if (linked != EEXIST)
            return fail(sys::error_from_errno(linked, "creating segment '" + name + "'"));

        // Something is there. Take it over only if it is a framebus segment
        // whose writer is dead; never touch anything else.
        auto existing = SegmentFile::open(name, SegmentFile::Access::read_write);
        if (!existing) {
            if (existing.error().code == Errc::not_found) continue;  // vanished: retry
            return fail(existing.error());
        }
        auto prefix = existing->read_prefix(sizeof(SegmentHeader));
        if (!prefix) return fail(prefix.error());
        auto geometry = read_header(std::as_bytes(std::span(prefix->data(), prefix->size())),
                                    existing->size(), final_path);
        // A segment of an older layout, or a corrupt one (a forged header, a
        // truncation), is taken over like any other once its writer is dead:
        // the writer lock byte is the same in every version and needs no
        // header to be probed (PROTOCOL.md "Trust"). A file without the
        // magic is somebody else's: never touched.
        const bool older = !geometry && (geometry.error().code == Errc::version_mismatch ||
                                         geometry.error().code == Errc::corrupt);
        if (!geometry && !older) {
            Error e = geometry.error();
            e.message += "; not touching it";
            return fail(e);
        }
        int err = sys::try_lock(existing->fd(), layout::kWriterLockByte);
        if (older) {
            if (err != 0) {
                Error e = geometry.error();
                if (e.code == Errc::corrupt)
                    e.message += "; its writer lock is held (a live writer): not touching it";
                return fail(e);
            }
            if (!existing->is_at(name)) continue;
            if (int renamed = sys::rename(temp_path, final_path); renamed != 0)
                return fail(sys::error_from_errno(renamed, "taking over segment '" + name + "'"));
            return ok_status();
        }
        if (err == EAGAIN)
            return fail(Error{Errc::live_writer, "segment '" + name +
                                                     "' already has a live writer (pid " +
                                                     std::to_string(geometry->writer_pid) + ")"});
        if (err != 0 && writer_alive(existing->fd(), *geometry))  // OFD locks unsupported
            return fail(Error{Errc::live_writer, "segment '" + name +
                                                     "' already has a live writer (pid " +
                                                     std::to_string(geometry->writer_pid) + ")"});
        // We hold the dead writer's lock; make sure the name still means this
        // object (another writer may have won between open and lock).
        if (!existing->is_at(name)) continue;
        if (int renamed = sys::rename(temp_path, final_path); renamed != 0)
            return fail(sys::error_from_errno(renamed, "taking over segment '" + name + "'"));
        // Readers still attached to the dead writer's segment: follow us.
        if (auto old = Mapping::map(*existing, true, 0, sizeof(SegmentHeader)))
            mark_replaced(reinterpret_cast<SegmentHeader*>(old->data()));
        return ok_status();
    }
    return fail(Error{Errc::system, "segment '" + name + "' keeps changing under us; gave up"});
}

}  // namespace

struct WriterImpl : std::enable_shared_from_this<WriterImpl> {
    WriterOptions options;
    SegmentFile file;
    Mapping mapping;
    Geometry geometry;
    ControlView control;
    std::byte* data = nullptr;

    std::uint64_t next_sequence = 1;
    std::uint32_t cursor = 0;  // where the oldest-first search for a free slot starts
    SlotHistory history;       // which slot holds which frame: the hot-slot choice
    bool slot_out = false;
    bool closed = false;
    // The share of this object the next WriteSlot takes. A slot hands it back
    // at commit or abandon, so after the first frame acquire() and commit()
    // only move it (no atomic reference count on the hot path; a
    // shared_from_this() per frame cost ~90 ns). A self-reference while the
    // writer is open; close() drops it, or, if a slot is out then, the slot
    // does.
    std::shared_ptr<WriterImpl> slot_share;
    WriterStats stats;
    std::atomic<std::uint64_t> reclaimed{0};  // counted by the upkeep thread too

    // The upkeep thread (PROTOCOL.md "Upkeep"). upkeep_mutex serialises it
    // with everything else that makes system calls on the segment: replacing
    // it, closing it, reclaiming from acquire(). Two threads of one process
    // share the OFD locks, so reclaims must never overlap. The hot path never
    // takes the mutex: only this thread's own replace() changes the fields
    // the hot path reads, and it holds the mutex while it does.
    std::mutex upkeep_mutex;
    std::condition_variable upkeep_wake;
    bool upkeep_stopping = false;
    std::thread upkeep_thread;

    ~WriterImpl() { close(); }

    void adopt(BuiltSegment&& built) {
        file = std::move(built.file);
        mapping = std::move(built.mapping);
        geometry = std::move(built.geometry);
        control = control_view(mapping.data(), geometry.slot_count);
        data = mapping.data() + geometry.data_offset;
        next_sequence = 1;  // sequences count from 1 in every segment
        cursor = 0;
        history = SlotHistory(geometry.slot_count);
    }

    void start_upkeep() {
        if (options.upkeep_interval.count() <= 0) return;
        upkeep_thread = std::thread([this] {
            std::unique_lock lock(upkeep_mutex);
            while (!upkeep_wake.wait_for(lock, options.upkeep_interval,
                                         [this] { return upkeep_stopping; })) {
                check_size();
                heartbeat();
                repair();
                reclaimed += reclaim_dead_readers(file.fd(), control, geometry);
            }
        });
    }

    // What the writer set writer_state to last; the upkeep restores it if
    // someone who may write the segment stored another value.
    std::atomic<std::uint32_t> intended_state{static_cast<std::uint32_t>(WriterState::live)};

    void set_state(WriterState state) {
        intended_state.store(static_cast<std::uint32_t>(state), std::memory_order_seq_cst);
        set_writer_state(control, state);
    }

    // The writer owns the control region; on each upkeep it puts back what it
    // can check (PROTOCOL.md "Trust"): its own state word, and holder bits of
    // readers that cannot exist (at or above max_readers), which would
    // otherwise keep their slots from it for ever. Bits of possible readers
    // are the dead-reader reclaim's, which asks the kernel's locks.
    void repair() {
        // seq_cst, state word first: a concurrent end_of_stream() stores its
        // intent before the word, so our compare-exchange either sees its
        // word (and fails) or restores the very value it is about to store.
        std::uint32_t seen = control.header->writer_state.load(std::memory_order_seq_cst);
        const std::uint32_t want = intended_state.load(std::memory_order_seq_cst);
        if (seen != want && control.header->writer_state.compare_exchange_strong(
                                seen, want, std::memory_order_seq_cst)) {
            control.header->publish_futex.fetch_add(1, std::memory_order_seq_cst);
            sys::futex_wake_all(&control.header->publish_futex);
            ++stats_repairs;
        }
        const std::uint64_t possible = geometry.max_readers >= 64
                                           ? ~std::uint64_t{0}
                                           : (std::uint64_t{1} << geometry.max_readers) - 1;
        for (std::uint32_t i = 0; i < geometry.slot_count; ++i) {
            auto& holders = control.slots[i].holders;
            // relaxed: a check; the fetch_and below is the repair.
            if ((holders.load(std::memory_order_relaxed) & ~possible) == 0) continue;
            // release: like a reader's release of its bit (pairs with W2).
            holders.fetch_and(possible, std::memory_order_release);
            ++stats_repairs;
        }
    }
    std::uint64_t stats_repairs = 0;  // upkeep thread only

    // Truncated under us (PROTOCOL.md "Truncation"): a SIGBUS hit the mapping,
    // or the upkeep saw the size change before anything touched the lost
    // pages. The next acquire() replaces the segment.
    std::atomic<bool> size_changed{false};
    void check_size() {
        struct stat st {};
        if (sys::fstat(file.fd(), st) == 0 &&
            static_cast<std::uint64_t>(st.st_size) != geometry.total_size)
            size_changed.store(true, std::memory_order_relaxed);  // a flag for acquire()
    }
    bool truncated() const {
        // relaxed: flags, acted on with system calls (replace).
        return mapping.truncated() || size_changed.load(std::memory_order_relaxed);
    }

    void stop_upkeep() {
        if (!upkeep_thread.joinable()) return;
        {
            std::lock_guard lock(upkeep_mutex);
            upkeep_stopping = true;
        }
        upkeep_wake.notify_all();
        upkeep_thread.join();
    }

    void heartbeat() {
        // relaxed: a status word for tools ("stalled"), never used for liveness.
        control.header->heartbeat_ns.store(now_ns(), std::memory_order_relaxed);
    }

    Status replace(std::uint64_t capacity) {
        auto planned = plan_geometry(geometry.slot_count, geometry.max_readers,
                                     geometry.leases_per_reader, capacity);
        if (!planned) return planned.error();
        auto built = build_segment(options.name, *planned, options.mode);
        if (!built) return built.error();
        std::lock_guard lock(upkeep_mutex);
        if (auto st = install_segment(*built, options.name, &file); !st) return st.error();
        mark_replaced(control.header);
        adopt(std::move(*built));
        ++stats.replaced;
        return ok_status();
    }

    Result<WriteSlot> acquire(const FrameFormat& format) {
        if (closed) return Error{Errc::invalid_argument, "the writer is closed"};
        if (slot_out)
            return Error{Errc::invalid_argument, "a slot is already acquired; commit it first"};
        if (!frame_fits(format, std::uint64_t{1} << 40))
            return Error{Errc::invalid_argument,
                         "inconsistent frame format (zero or huge size, a size the pixel "
                         "format cannot subsample, a row wider than its stride, planes out of "
                         "order, or a pixel format that disagrees with its OpenCV type)"};
        if (truncated()) {
            // Somebody who may write the segment cut it short: build a new
            // one under the name (readers follow), or fail with one line.
            if (auto st = replace(std::max(format.bytes(), geometry.slot_capacity)); !st) {
                Error e = st.error();
                e.message =
                    "segment '" + options.name +
                    "' was truncated under the writer and could not be replaced: " + e.message;
                return e;
            }
            size_changed.store(false, std::memory_order_relaxed);
        }
        if (format.bytes() > geometry.slot_capacity) {
            if (auto st = replace(format.bytes()); !st) return st.error();
        }
        const std::uint64_t seq = next_sequence;
        auto i = acquire_hot_slot(control, geometry.slot_count, geometry.max_readers, seq, cursor,
                                  history, options.reuse_newest);
        // Every slot taken: if dead readers hold some, take them back (system
        // calls, but only here, where the alternative is dropping the frame).
        if (!i && reclaim() > 0)
            i = acquire_hot_slot(control, geometry.slot_count, geometry.max_readers, seq, cursor,
                                 history, options.reuse_newest);
        if (i) {
            if (options.reuse_newest && history.slot_of(seq - 1) == *i) ++stats.newest_reused;
            slot_out = true;
            auto share = slot_share ? std::move(slot_share) : shared_from_this();
            return WriteSlot(std::move(share), data + std::uint64_t{*i} * geometry.slot_stride,
                             geometry.slot_capacity, format, seq, *i);
        }
        // relaxed: a statistic.
        control.header->frames_dropped.fetch_add(1, std::memory_order_relaxed);
        ++stats.dropped;
        return Error{Errc::no_free_slot, "no free slot in segment '" + options.name +
                                             "' (every slot is held or latest); frame dropped"};
    }

    void commit(std::uint32_t i, std::uint64_t seq, const FrameFormat& format,
                std::int64_t capture_ns) {
        slot_out = false;
        if (closed) return abandon_slot(control, i);  // nobody is reading any more
        const std::int64_t publish_ns = now_ns();
        // A capture time off the bus's clock would read as corrupt: use ours.
        const bool own_capture = capture_ns != 0 && plausible_timestamp(capture_ns);
        commit_slot(control, i, seq, format, own_capture ? capture_ns : publish_ns, publish_ns);
        history.committed(i, seq);
        next_sequence = seq + 1;
        ++stats.published;
    }

    // A slot's share after commit or abandon: kept for the next acquire()
    // while open; once closed it is not taken, so the caller's copy (maybe
    // the last one) goes and frees the mapping.
    void give_back(std::shared_ptr<WriterImpl>& share) {
        if (!closed && !slot_share) slot_share = std::move(share);
    }

    std::size_t reclaim() {
        std::lock_guard lock(upkeep_mutex);
        const std::size_t n = reclaim_dead_readers(file.fd(), control, geometry);
        reclaimed += n;
        return n;
    }

    void abandon(std::uint32_t i) {
        abandon_slot(control, i);
        history.emptied(i);
        slot_out = false;
    }

    void close() {
        if (closed) return;
        closed = true;
        stop_upkeep();
        set_state(WriterState::end_of_stream);
        // Unlink only if the name is still ours (not taken over by someone
        // after a `framebus clean --force`).
        if (!options.keep && file.is_at(options.name)) (void)sys::shm_unlink(options.name);
        sys::unlock(file.fd(), layout::kWriterLockByte);
        file = SegmentFile();
        // The mapping stays while a WriteSlot (which shares this object) is out.
        if (!slot_out) mapping = Mapping();
        // Break the self-reference (never the last one: our caller's Writer,
        // or a slot that is out, still owns us).
        slot_share.reset();
    }
};

}  // namespace detail

// ---- WriteSlot -----------------------------------------------------------

WriteSlot& WriteSlot::operator=(WriteSlot&& other) noexcept {
    if (this != &other) {
        abandon();
        owner_ = std::move(other.owner_);
        data_ = other.data_;
        capacity_ = other.capacity_;
        format_ = other.format_;
        sequence_ = other.sequence_;
        slot_ = other.slot_;
    }
    return *this;
}

Status WriteSlot::set_format(const FrameFormat& format) {
    if (!frame_fits(format, capacity_))
        return Error{Errc::frame_too_large, "frame of " + std::to_string(format.width) + "x" +
                                                std::to_string(format.height) +
                                                " does not fit the slot"};
    format_ = format;
    return ok_status();
}

void WriteSlot::commit(std::int64_t capture_ns) {
    if (owner_ == nullptr) return;
    auto owner = std::move(owner_);  // the last owner may free the mapping after this
    owner->commit(slot_, sequence_, format_, capture_ns);
    owner->give_back(owner);  // moved back for the next acquire(), unless closed
}

void WriteSlot::abandon() {
    if (owner_ == nullptr) return;
    auto owner = std::move(owner_);
    owner->abandon(slot_);
    owner->give_back(owner);
}

// ---- Writer --------------------------------------------------------------

Writer::Writer(std::shared_ptr<detail::WriterImpl> impl) : impl_(std::move(impl)) {}
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&& other) noexcept {
    if (this != &other) {
        close();
        impl_ = std::move(other.impl_);
    }
    return *this;
}
Writer::~Writer() {
    close();
}

Result<Writer> Writer::create(const WriterOptions& options) {
    if (auto st = validate_name(options.name); !st) return st.error();
    if (options.mode & ~0777u)
        return Error{Errc::invalid_argument, "mode must be permission bits (0..0777)"};
    if (options.leases_per_reader < 1 || options.leases_per_reader > layout::kMaxLeasesPerReader)
        return Error{Errc::invalid_argument,
                     "leases per reader must be 1.." + std::to_string(layout::kMaxLeasesPerReader) +
                         ", not " + std::to_string(options.leases_per_reader)};
    const std::uint32_t slots =
        options.slots != 0 ? options.slots : options.max_readers * options.leases_per_reader + 2;
    const std::uint64_t capacity =
        options.slot_capacity != 0 ? options.slot_capacity : options.initial_format.bytes();
    if (capacity == 0)
        return Error{Errc::invalid_argument,
                     "slot capacity unknown: give a slot capacity or an initial frame format"};
    auto planned =
        detail::plan_geometry(slots, options.max_readers, options.leases_per_reader, capacity);
    if (!planned) return planned.error();
    auto built = detail::build_segment(options.name, *planned, options.mode);
    if (!built) return built.error();
    if (auto st = detail::install_segment(*built, options.name, nullptr); !st) return st.error();
    auto impl = std::make_shared<detail::WriterImpl>();
    impl->options = options;
    impl->adopt(std::move(*built));
    impl->start_upkeep();
    return Writer(std::move(impl));
}

Result<WriteSlot> Writer::acquire(const FrameFormat& format) {
    return impl_->acquire(format);
}

void Writer::end_of_stream() {
    impl_->set_state(WriterState::end_of_stream);
}

void Writer::heartbeat() {
    impl_->heartbeat();
}

std::size_t Writer::reclaim_dead_readers() {
    return impl_->reclaim();
}

std::uint32_t Writer::readers_attached() const {
    std::uint32_t count = 0;
    for (std::uint32_t r = 0; r < impl_->geometry.max_readers; ++r)
        // relaxed: a statistic.
        count += impl_->control.readers[r].pid.load(std::memory_order_relaxed) != 0;
    return count;
}

bool Writer::wait_for_reader(std::chrono::nanoseconds timeout) {
    auto& word = impl_->control.header->attach_futex;
    // seq_cst, pairs with the reader's bump after it stored its pid: either
    // we see the pid below, or the futex word moved (or we are woken).
    const std::uint32_t seen = word.load(std::memory_order_seq_cst);
    if (readers_attached() > 0) return true;
    sys::futex_wait(&word, seen, timeout.count());
    return readers_attached() > 0;
}

void Writer::set_idle(bool idle) {
    // relaxed: for tools only.
    impl_->control.header->writer_idle.store(idle ? 1 : 0, std::memory_order_relaxed);
}

WriterStats Writer::stats() const {
    WriterStats stats = impl_->stats;
    stats.reclaimed = impl_->reclaimed.load(std::memory_order_relaxed);  // a statistic
    return stats;
}
const std::string& Writer::name() const {
    return impl_->options.name;
}
std::uint64_t Writer::slot_capacity() const {
    return impl_->geometry.slot_capacity;
}
std::uint32_t Writer::slot_count() const {
    return impl_->geometry.slot_count;
}
std::uint32_t Writer::max_readers() const {
    return impl_->geometry.max_readers;
}
std::uint32_t Writer::leases_per_reader() const {
    return impl_->geometry.leases_per_reader;
}

void Writer::close() {
    if (impl_) impl_->close();
}

}  // namespace framebus
