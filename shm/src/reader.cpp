// The reader side. Protocol: shm/PROTOCOL.md ("Leasing", "Waiting").
#include "framebus/reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

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
constexpr std::int64_t kLivenessCheckNs = 100'000'000;  // writer death noticed within this
constexpr std::int64_t kFollowLookNs = 200'000'000;     // a new writer found within this
}  // namespace

// One segment, attached as one reader entry. Shared by the Reader and by every
// Lease taken from it, so the mapping and the entry live until the last of
// them goes (PROTOCOL.md "The lease rule").
struct Attachment {
    std::string name;
    SegmentFile file;
    Mapping control_mapping;  // read-write: leases, reader table, wait word
    Mapping data_mapping;     // read-only: frames (DESIGN.md guarantee 7)
    Geometry geometry;
    ControlView control;
    const std::byte* data = nullptr;
    std::uint32_t index = 0;
    std::uint64_t bit = 0;
    bool claimed = false;
    std::vector<std::uint8_t> held;  // this reader's leases per slot
    std::uint32_t leases_out = 0;

    ~Attachment() {
        if (!claimed) return;
        // Every Lease is gone (each shares this object); clear what a lease
        // released by a dying predecessor may have left, then the entry.
        for (std::uint32_t i = 0; i < geometry.slot_count; ++i) release_hold(control, i, bit);
        control.readers[index].pid.store(0, std::memory_order_relaxed);  // statistics only
        sys::unlock(file.fd(), layout::reader_lock_byte(index));
    }

    static Result<std::shared_ptr<Attachment>> open(const std::string& name) {
        auto at = std::make_shared<Attachment>();
        at->name = name;
        auto file = SegmentFile::open(name, SegmentFile::Access::read_write);
        if (!file) return file.error();
        at->file = std::move(*file);
        auto prefix = at->file.read_prefix(sizeof(SegmentHeader));
        if (!prefix) return prefix.error();
        auto geometry = read_header(std::as_bytes(std::span(prefix->data(), prefix->size())),
                                    at->file.size(), "segment '" + name + "'");
        if (!geometry) return geometry.error();
        at->geometry = std::move(*geometry);
        const Geometry& g = at->geometry;

        auto control = Mapping::map(at->file, true, 0, g.data_offset);
        if (!control) return control.error();
        at->control_mapping = std::move(*control);
        auto data = Mapping::map(at->file, false, g.data_offset, g.total_size - g.data_offset);
        if (!data) return data.error();
        at->data_mapping = std::move(*data);
        at->control = control_view(at->control_mapping.data(), g.slot_count);
        at->data = at->data_mapping.data();
        at->held.assign(g.slot_count, 0);
        return at;
    }

    // `start_sequence`: the frame `next()` starts after (just before the
    // newest at open). Stored as this entry's `last_sequence` before the pid,
    // so the writer's slot choice sees the reader where it really starts.
    Status claim_entry(std::uint64_t start_sequence) {
        for (std::uint32_t r = 0; r < geometry.max_readers; ++r) {
            int err = sys::try_lock(file.fd(), layout::reader_lock_byte(r));
            if (err == EAGAIN) continue;  // a live reader owns it
            if (err != 0)
                return sys::error_from_errno(err, "locking a reader entry of '" + name + "'");
            index = r;
            bit = std::uint64_t{1} << r;
            claimed = true;
            // The entry is ours; a dead previous owner may have left leases.
            for (std::uint32_t i = 0; i < geometry.slot_count; ++i) release_hold(control, i, bit);
            layout::ReaderEntry& e = control.readers[r];
            // relaxed: the reader table is statistics for tools.
            e.start_time.store(sys::process_start_time(::getpid()).value_or(0),
                               std::memory_order_relaxed);
            // relaxed, published by the pid's release store below.
            e.last_sequence.store(start_sequence, std::memory_order_relaxed);
            e.frames.store(0, std::memory_order_relaxed);
            e.skipped.store(0, std::memory_order_relaxed);
            // release: pairs with the writer's acquire load of the pid in
            // consumed_sequence; whoever sees our pid sees our start, never a
            // previous owner's `last_sequence`.
            e.pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_release);
            // Wake a writer waiting for readers (seq_cst, pairs with its load
            // of attach_futex in wait_for_reader; also a release of the pid).
            control.header->attach_futex.fetch_add(1, std::memory_order_seq_cst);
            sys::futex_wake_all(&control.header->attach_futex);
            return ok_status();
        }
        return Error{Errc::too_many_readers,
                     "segment '" + name + "' has no free reader entry (all " +
                         std::to_string(geometry.max_readers) + " are taken by live readers)"};
    }

    // A lease of slot i was taken (try_hold succeeded) / given back.
    void count_hold(std::uint32_t i) {
        ++held[i];
        ++leases_out;
    }
    void release(std::uint32_t i) {
        // The bit goes with this reader's last lease of the slot.
        if (--held[i] == 0) release_hold(control, i, bit);
        --leases_out;
    }

    // A SIGBUS hit one of our mappings: the segment was cut short under us
    // (PROTOCOL.md "Truncation"); what we map there now is private zeros.
    bool truncated() const { return control_mapping.truncated() || data_mapping.truncated(); }

    bool name_exists() const {
        struct stat st {};
        return sys::stat(segment_path(name), st) == 0;
    }
};

struct ReaderImpl {
    std::string name;
    ReaderOptions options;
    std::shared_ptr<Attachment> at;  // null once closed

    // This segment.
    std::uint64_t last_sequence = 0;
    std::uint64_t frames = 0;
    std::uint64_t skipped = 0;
    // Segments followed before it.
    std::uint64_t earlier_frames = 0;
    std::uint64_t earlier_skipped = 0;
    std::uint64_t writer_restarts = 0;
    std::uint64_t follows = 0;
    // follow: the writer died or ended its stream; wait() looks for a new one.
    bool looking = false;
    // The `latest` word under which no frame could be leased (forged, or
    // overtaken): wait() sleeps until it moves instead of retrying hot.
    std::uint64_t unleasable_latest = 0;

    Status attach(std::shared_ptr<Attachment> fresh) {
        // Start just before the newest frame: latest() returns it at once and
        // next() records from it on; nothing before our arrival counts as
        // skipped. Read before claiming the entry: a writer that waits for
        // readers to attach may publish as soon as we count as attached.
        const std::uint64_t newest = published_sequence(fresh->control);
        const std::uint64_t start = newest > 0 ? newest - 1 : 0;
        if (auto st = fresh->claim_entry(start); !st) return st.error();
        if (at) {
            earlier_frames += frames;
            earlier_skipped += skipped;
            if (fresh->geometry.writer_pid != at->geometry.writer_pid) ++writer_restarts;
            ++follows;
        }
        at = std::move(fresh);
        last_sequence = start;
        frames = 0;
        skipped = 0;
        looking = false;
        return ok_status();
    }

    Error closed_error() const {
        return Error{Errc::invalid_argument, "reader of '" + name + "' is closed"};
    }

    // Under a lease: copy and check the description (nothing is trusted).
    Result<Lease> make_lease(std::uint32_t i, std::uint64_t sequence) {
        Attachment& a = *at;
        a.count_hold(i);
        const SlotHeader& slot = a.control.slots[i];
        FrameInfo info;
        info.format = slot_format(slot);
        info.sequence = sequence;
        info.capture_ns = slot.capture_ns;
        info.publish_ns = slot.publish_ns;
        if (!frame_fits(info.format, a.geometry.slot_capacity) ||
            slot.bytes != info.format.bytes() || !plausible_timestamp(info.capture_ns) ||
            !plausible_timestamp(info.publish_ns)) {
            a.release(i);
            return Error{Errc::corrupt, "segment '" + name + "': slot " + std::to_string(i) +
                                            " describes a frame that does not fit it"};
        }
        if (sequence > last_sequence) {
            skipped += sequence - last_sequence - 1;
            last_sequence = sequence;
            ++frames;
            layout::ReaderEntry& e = a.control.readers[a.index];
            // relaxed: statistics for tools.
            e.last_sequence.store(last_sequence, std::memory_order_relaxed);
            e.frames.store(frames, std::memory_order_relaxed);
            e.skipped.store(skipped, std::memory_order_relaxed);
        }
        return Lease(at, a.data + std::uint64_t{i} * a.geometry.slot_stride, info, i);
    }

    Result<Lease> hold(std::optional<Held> held, HoldError error) {
        if (held) return make_lease(held->slot, held->seq);
        // relaxed: compared with itself only, in wait().
        unleasable_latest = at->control.header->latest.load(std::memory_order_relaxed);
        switch (error) {
            case HoldError::corrupt:
                return Error{Errc::corrupt,
                             "segment '" + name + "': the latest frame is not where it says"};
            case HoldError::overtaken:
                return Error{Errc::no_frame, "the writer kept overtaking this reader"};
            default:
                return Error{Errc::no_frame, "no newer frame yet"};
        }
    }

    Status may_lease() const {
        if (!at) return closed_error();
        if (at->truncated())
            return Error{Errc::corrupt,
                         "segment '" + name + "' was truncated under this reader (corrupt)"};
        if (at->leases_out >= at->geometry.leases_per_reader)
            return Error{Errc::lease_held,
                         "this reader already holds " + std::to_string(at->leases_out) +
                             " leases, the most segment '" + name + "' allows one reader"};
        return ok_status();
    }

    Result<Lease> latest() {
        if (auto st = may_lease(); !st) return st.error();
        HoldError error = HoldError::none;
        const std::uint8_t* held_counts = at->leases_out != 0 ? at->held.data() : nullptr;
        auto held = hold_latest(at->control, at->geometry.slot_count, at->bit, held_counts, error);
        return hold(held, error);
    }

    Result<Lease> next() {
        if (auto st = may_lease(); !st) return st.error();
        HoldError error = HoldError::none;
        const std::uint8_t* held_counts = at->leases_out != 0 ? at->held.data() : nullptr;
        auto held = hold_next(at->control, at->geometry.slot_count, last_sequence, at->bit,
                              held_counts, error);
        return hold(held, error);
    }

    bool newer_frame() const { return published_sequence(at->control) > last_sequence; }

    // A newer frame that a lease has not just failed to find: a `latest`
    // that no lease can follow is not offered again until it moves.
    bool leasable_newer_frame() const {
        // relaxed: compared with what hold() saw, see unleasable_latest.
        return newer_frame() &&
               at->control.header->latest.load(std::memory_order_relaxed) != unleasable_latest;
    }

    // What the writer state word says, judged (PROTOCOL.md "Trust"): an
    // unknown value is corruption and means nothing; `replaced` is believed
    // only if the name points elsewhere or the writer's lock is free (the
    // kernel's lock wins over a word anyone who may write can forge).
    std::optional<WaitStatus> state_change() const {
        switch (static_cast<WriterState>(writer_state_word(at->control))) {
            case WriterState::end_of_stream:
                return WaitStatus::end_of_stream;
            case WriterState::replaced:
                if (at->file.is_at(name)) {
                    if (detail::writer_alive(at->file.fd(), at->geometry)) return std::nullopt;
                    return WaitStatus::writer_gone;
                }
                // The name points at the replacement, unless that is gone too
                // (its writer finished): then there is nothing to follow.
                return at->name_exists() ? WaitStatus::replaced : WaitStatus::writer_gone;
            case WriterState::live:
                break;
        }
        return std::nullopt;
    }

    // Switches to the segment now under the name if it is another one.
    Result<bool> follow() {
        if (!at) return closed_error();
        if (at->file.is_at(name)) return false;  // still the same segment
        auto fresh = Attachment::open(name);
        if (!fresh) {
            if (fresh.error().code == Errc::not_found) return false;  // nothing to follow yet
            return fresh.error();
        }
        if (auto st = attach(std::move(*fresh)); !st) return st.error();
        return true;
    }

    // follow: a lost stream. Looks for a new segment every kFollowLookNs
    // until the deadline. Appearance of a name has no wake-up to wait on.
    WaitStatus look_for_writer(std::int64_t deadline) {
        for (;;) {
            auto switched = follow();
            if (switched && *switched) return WaitStatus::followed;
            const std::int64_t remaining = deadline - now_ns();
            if (remaining <= 0) return WaitStatus::timed_out;
            std::this_thread::sleep_for(
                std::chrono::nanoseconds(std::min(remaining, kFollowLookNs)));
        }
    }

    // Without follow: what happened. With follow: the same, but a
    // replacement is followed at once and a lost writer is looked for.
    WaitStatus on_change(WaitStatus change) {
        if (!options.follow) return change;
        if (change == WaitStatus::replaced) {
            auto switched = follow();
            if (switched && *switched) return WaitStatus::followed;
            change = WaitStatus::writer_gone;  // the replacement vanished
        }
        looking = true;
        return change;
    }

    WaitStatus wait(std::chrono::nanoseconds timeout) {
        if (!at) return WaitStatus::end_of_stream;
        const std::int64_t deadline = now_ns() + timeout.count();
        if (looking) return look_for_writer(deadline);
        const std::int64_t spin_ns = std::chrono::nanoseconds(options.spin).count();
        bool spun = spin_ns == 0;
        for (;;) {
            // A newer frame first: a `next` reader drains what was published
            // before the end of stream or a replacement.
            // Cut short under us: this segment is over; follow finds the
            // writer's replacement (or a new writer) under the name.
            if (at->truncated()) return on_change(WaitStatus::writer_gone);
            if (leasable_newer_frame()) return WaitStatus::frame;
            // The word as judged now: a forged or unknown value we ignore is
            // slept on (the futex), never re-read in a hot loop.
            const std::uint32_t settled = writer_state_word(at->control);
            if (auto change = state_change()) return on_change(*change);
            const std::int64_t remaining = deadline - now_ns();
            if (remaining <= 0) return WaitStatus::timed_out;
            if (!spun) {  // the adaptive wait's first phase, once per call
                spun = true;
                spin_for_newer(at->control, last_sequence, std::min(remaining, spin_ns));
                continue;
            }
            // A newer sequence that could not be leased: wait for any move.
            const std::uint64_t after =
                newer_frame() ? std::numeric_limits<std::uint64_t>::max() : last_sequence;
            const Woken woken =
                wait_for_newer(at->control, after, std::min(remaining, kLivenessCheckNs), settled);
            // A quiet interval is when we look whether the writer still lives.
            if (woken == Woken::quiet && !detail::writer_alive(at->file.fd(), at->geometry))
                return on_change(state_change().value_or(WaitStatus::writer_gone));
        }
    }
};

}  // namespace detail

// ---- Lease ---------------------------------------------------------------

Lease& Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::move(other.owner_);
        data_ = other.data_;
        info_ = other.info_;
        slot_ = other.slot_;
    }
    return *this;
}

void Lease::release() {
    if (owner_ == nullptr) return;
    owner_->release(slot_);
    owner_.reset();  // the last owner unmaps and gives the reader entry back
}

// ---- Reader --------------------------------------------------------------

Reader::Reader(std::unique_ptr<detail::ReaderImpl> impl) : impl_(std::move(impl)) {}
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;
Reader::~Reader() = default;

Result<Reader> Reader::open(const std::string& name, const ReaderOptions& options) {
    if (auto st = validate_name(name); !st) return st.error();
    const auto deadline = std::chrono::steady_clock::now() + options.wait_for_segment;
    for (;;) {
        auto at = detail::Attachment::open(name);
        if (at) {
            auto impl = std::make_unique<detail::ReaderImpl>();
            impl->name = name;
            impl->options = options;
            if (auto st = impl->attach(std::move(*at)); !st) return st.error();
            return Reader(std::move(impl));
        }
        if (at.error().code != Errc::not_found || std::chrono::steady_clock::now() >= deadline) {
            Error e = at.error();
            if (e.code == Errc::not_found)
                e.message =
                    "no segment named '" + name + "' (is a writer running under that name?)";
            return e;
        }
        // Appearance of a name has no wake-up to wait on; poll gently.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

Result<Lease> Reader::latest() {
    return impl_->latest();
}
Result<Lease> Reader::next() {
    return impl_->next();
}
WaitStatus Reader::wait(std::chrono::nanoseconds timeout) {
    return impl_->wait(timeout);
}

WaitStatus Reader::status() const {
    if (!impl_->at) return WaitStatus::end_of_stream;
    if (impl_->leasable_newer_frame()) return WaitStatus::frame;
    if (auto change = impl_->state_change()) return *change;
    if (!writer_alive()) return WaitStatus::writer_gone;
    return WaitStatus::timed_out;
}

bool Reader::writer_alive() const {
    return impl_->at && detail::writer_alive(impl_->at->file.fd(), impl_->at->geometry);
}

Result<bool> Reader::follow() {
    return impl_->follow();
}

void Reader::close() {
    if (impl_) impl_->at.reset();
}
bool Reader::is_open() const {
    return impl_ && impl_->at;
}

std::uint32_t Reader::max_leases() const {
    return impl_->at ? impl_->at->geometry.leases_per_reader : 0;
}
std::uint32_t Reader::leases_held() const {
    return impl_->at ? impl_->at->leases_out : 0;
}
std::uint64_t Reader::last_sequence() const {
    return impl_->last_sequence;
}
std::uint64_t Reader::frames() const {
    return impl_->earlier_frames + impl_->frames;
}
std::uint64_t Reader::skipped() const {
    return impl_->earlier_skipped + impl_->skipped;
}
std::uint64_t Reader::writer_restarts() const {
    return impl_->writer_restarts;
}
std::uint64_t Reader::follows() const {
    return impl_->follows;
}
std::uint64_t Reader::latest_sequence() const {
    return impl_->at ? detail::published_sequence(impl_->at->control) : 0;
}
std::uint32_t Reader::reader_index() const {
    return impl_->at ? impl_->at->index : 0;
}
std::uint32_t Reader::writer_pid() const {
    return impl_->at ? impl_->at->geometry.writer_pid : 0;
}
const std::string& Reader::name() const {
    return impl_->name;
}

}  // namespace framebus
