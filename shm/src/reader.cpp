// The reader side. Protocol: shm/PROTOCOL.md ("Leasing", "Waiting").
#include "framebus/reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
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
constexpr std::int64_t kLivenessCheckNs = 100'000'000;  // writer death noticed within this
}  // namespace

struct ReaderImpl {
    std::string name;
    SegmentFile file;
    Mapping control_mapping;  // read-write: leases, reader table, wait word
    Mapping data_mapping;     // read-only: frames (DESIGN.md guarantee 7)
    Geometry geometry;
    ControlView control;
    const std::byte* data = nullptr;
    std::uint32_t index = 0;
    std::uint64_t bit = 0;

    std::uint64_t last_sequence = 0;
    std::uint64_t frames = 0;
    std::uint64_t skipped = 0;
    bool lease_out = false;
    bool claimed = false;

    ~ReaderImpl() {
        if (!claimed) return;
        // Leases must not outlive their reader (Lease holds a pointer to us).
        for (std::uint32_t i = 0; i < geometry.slot_count; ++i) release_hold(control, i, bit);
        control.readers[index].pid.store(0, std::memory_order_relaxed);  // statistics only
        sys::unlock(file.fd(), layout::reader_lock_byte(index));
    }

    static Result<std::unique_ptr<ReaderImpl>> open(const std::string& name) {
        auto impl = std::make_unique<ReaderImpl>();
        impl->name = name;
        auto file = SegmentFile::open(name, SegmentFile::Access::read_write);
        if (!file) return file.error();
        impl->file = std::move(*file);
        auto prefix = impl->file.read_prefix(sizeof(SegmentHeader));
        if (!prefix) return prefix.error();
        auto geometry = read_header(std::as_bytes(std::span(prefix->data(), prefix->size())),
                                    impl->file.size(), "segment '" + name + "'");
        if (!geometry) return geometry.error();
        impl->geometry = std::move(*geometry);
        const Geometry& g = impl->geometry;

        auto control = Mapping::map(impl->file, true, 0, g.data_offset);
        if (!control) return control.error();
        impl->control_mapping = std::move(*control);
        auto data = Mapping::map(impl->file, false, g.data_offset, g.total_size - g.data_offset);
        if (!data) return data.error();
        impl->data_mapping = std::move(*data);
        impl->control = control_view(impl->control_mapping.data(), g.slot_count);
        impl->data = impl->data_mapping.data();

        // Start just before the newest frame: latest() returns it at once and
        // next() records from it on; nothing before our arrival counts as
        // skipped. Read before claiming the entry: a writer that waits for
        // readers to attach may publish as soon as we count as attached.
        const std::uint64_t newest = published_sequence(impl->control);
        impl->last_sequence = newest > 0 ? newest - 1 : 0;
        if (auto st = impl->claim_entry(); !st) return st.error();
        return impl;
    }

    Status claim_entry() {
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
            e.last_sequence.store(0, std::memory_order_relaxed);
            e.frames.store(0, std::memory_order_relaxed);
            e.skipped.store(0, std::memory_order_relaxed);
            e.pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_relaxed);
            return ok_status();
        }
        return Error{Errc::too_many_readers,
                     "segment '" + name + "' has no free reader entry (all " +
                         std::to_string(geometry.max_readers) + " are taken by live readers)"};
    }

    // Under a lease: copy and check the description (nothing is trusted).
    Result<Lease> make_lease(std::uint32_t i, std::uint64_t sequence) {
        const SlotHeader& slot = control.slots[i];
        FrameInfo info;
        info.format = FrameFormat{slot.width, slot.height, slot.cv_type,
                                  static_cast<PixelFormat>(slot.pixel_format), slot.stride};
        info.sequence = sequence;
        info.capture_ns = slot.capture_ns;
        info.publish_ns = slot.publish_ns;
        const FrameFormat& f = info.format;
        if (!frame_fits(f, geometry.slot_capacity) || slot.bytes != f.bytes() ||
            !plausible_timestamp(info.capture_ns) || !plausible_timestamp(info.publish_ns)) {
            release(i);
            return Error{Errc::corrupt, "segment '" + name + "': slot " + std::to_string(i) +
                                            " describes a frame that does not fit it"};
        }
        lease_out = true;
        if (sequence > last_sequence) {
            skipped += sequence - last_sequence - 1;
            last_sequence = sequence;
            ++frames;
            layout::ReaderEntry& e = control.readers[index];
            // relaxed: statistics for tools.
            e.last_sequence.store(last_sequence, std::memory_order_relaxed);
            e.frames.store(frames, std::memory_order_relaxed);
            e.skipped.store(skipped, std::memory_order_relaxed);
        }
        return Lease(this, data + std::uint64_t{i} * geometry.slot_stride, info, i);
    }

    void release(std::uint32_t i) {
        release_hold(control, i, bit);
        lease_out = false;
    }

    Result<Lease> hold(std::optional<Held> held, HoldError error) {
        if (held) return make_lease(held->slot, held->seq);
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

    Result<Lease> latest() {
        if (lease_out) return Error{Errc::lease_held, "this reader already holds a lease"};
        HoldError error = HoldError::none;
        auto held = hold_latest(control, geometry.slot_count, bit, error);
        return hold(held, error);
    }

    Result<Lease> next() {
        if (lease_out) return Error{Errc::lease_held, "this reader already holds a lease"};
        HoldError error = HoldError::none;
        auto held = hold_next(control, geometry.slot_count, last_sequence, bit, error);
        return hold(held, error);
    }

    bool newer_frame() const { return published_sequence(control) > last_sequence; }

    bool name_exists() const { return ::access(segment_path(name).c_str(), F_OK) == 0; }

    std::optional<WaitStatus> state_change() const {
        switch (writer_state(control)) {
            case WriterState::end_of_stream:
                return WaitStatus::end_of_stream;
            case WriterState::replaced:
                // The name points at the replacement, unless that is gone too
                // (its writer finished): then there is nothing to follow.
                return file.is_at(name) || !name_exists() ? WaitStatus::writer_gone
                                                          : WaitStatus::replaced;
            case WriterState::live:
                break;
        }
        return std::nullopt;
    }

    WaitStatus wait(std::chrono::nanoseconds timeout) {
        const std::int64_t deadline = now_ns() + timeout.count();
        for (;;) {
            // A newer frame first: a `next` reader drains what was published
            // before the end of stream or a replacement.
            if (newer_frame()) return WaitStatus::frame;
            if (auto change = state_change()) return *change;
            const std::int64_t remaining = deadline - now_ns();
            if (remaining <= 0) return WaitStatus::timed_out;
            const Woken woken =
                wait_for_newer(control, last_sequence, std::min(remaining, kLivenessCheckNs));
            // A quiet interval is when we look whether the writer still lives.
            if (woken == Woken::quiet && !writer_alive(file.fd(), geometry))
                return state_change().value_or(WaitStatus::writer_gone);
        }
    }
};

}  // namespace detail

// ---- Lease ---------------------------------------------------------------

Lease& Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        data_ = other.data_;
        info_ = other.info_;
        slot_ = other.slot_;
    }
    return *this;
}

void Lease::release() {
    if (owner_ == nullptr) return;
    std::exchange(owner_, nullptr)->release(slot_);
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
        auto impl = detail::ReaderImpl::open(name);
        if (impl) return Reader(std::move(*impl));
        if (impl.error().code != Errc::not_found || std::chrono::steady_clock::now() >= deadline) {
            Error e = impl.error();
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
    if (impl_->newer_frame()) return WaitStatus::frame;
    if (auto change = impl_->state_change()) return *change;
    if (!writer_alive()) return WaitStatus::writer_gone;
    return WaitStatus::timed_out;
}

bool Reader::writer_alive() const {
    return detail::writer_alive(impl_->file.fd(), impl_->geometry);
}

Result<bool> Reader::follow() {
    if (impl_->lease_out) return Error{Errc::lease_held, "release the lease before following"};
    if (impl_->file.is_at(impl_->name)) return false;  // still the same segment
    auto fresh = detail::ReaderImpl::open(impl_->name);
    if (!fresh) {
        if (fresh.error().code == Errc::not_found) return false;  // nothing to follow yet
        return fresh.error();
    }
    impl_ = std::move(*fresh);
    return true;
}

std::uint64_t Reader::last_sequence() const {
    return impl_->last_sequence;
}
std::uint64_t Reader::frames() const {
    return impl_->frames;
}
std::uint64_t Reader::skipped() const {
    return impl_->skipped;
}
std::uint64_t Reader::latest_sequence() const {
    return detail::published_sequence(impl_->control);
}
std::uint32_t Reader::reader_index() const {
    return impl_->index;
}
std::uint32_t Reader::writer_pid() const {
    return impl_->geometry.writer_pid;
}
const std::string& Reader::name() const {
    return impl_->name;
}

}  // namespace framebus
