#include "publisher.hpp"

#include <fmt/core.h>
#include <opencv2/imgproc.hpp>

#include "framebus/opencv.hpp"
#include "framebus/stamp.hpp"
#include "stop_signal.hpp"

namespace framebus::writer {

namespace {

// The pixel format frames of `shape` are published in when no --format is asked.
PixelFormat natural_format(const SourceShape& shape) {
    return shape.pixel_format != PixelFormat::unknown ? shape.pixel_format : PixelFormat::bgr24;
}

}  // namespace

Status check_publishable(const FrameFormat& format) {
    const PixelFormatInfo& info = format_info(format.pixel_format);
    if (frame_fits(format, format.bytes())) return ok_status();
    if (((format.width | format.height) % info.size_multiple) != 0)
        return Error{Errc::invalid_argument,
                     fmt::format("{} needs a width and height that are multiples of {}; the "
                                 "frames are {}x{} (use --resize)",
                                 info.name, info.size_multiple, format.width, format.height)};
    return Error{Errc::invalid_argument, fmt::format("cannot publish {}x{} {} frames", format.width,
                                                     format.height, info.name)};
}

FrameFormat publish_format(const SourceShape& shape, const PublishPlan& plan) {
    const auto width = plan.resize ? plan.resize->width : static_cast<std::uint32_t>(shape.width);
    const auto height =
        plan.resize ? plan.resize->height : static_cast<std::uint32_t>(shape.height);
    return FrameFormat::packed(width, height, plan.format.value_or(natural_format(shape)));
}

Publisher::Publisher(Writer& writer, FrameSource& source, const PublishPlan& plan,
                     StatusLine& status)
    : writer_(writer), source_(source), plan_(plan), status_(status), pacer_(plan.fps) {}

void Publisher::refresh_counters() {
    const WriterStats stats = writer_.stats();
    counters_.dropped = stats.dropped;
    counters_.replaced = stats.replaced;
    counters_.newest_reused = stats.newest_reused;
    counters_.decode_errors = source_.decode_errors();
    if (source_.writes_slots()) counters_.zero_copy_misses = source_.zero_copy_misses();
}

void Publisher::chores(std::string_view state) {
    refresh_counters();
    if (status_.tick(counters_, writer_.readers_attached(), state)) {
        // Once a second, not per frame: it costs system calls.
        writer_.reclaim_dead_readers();
        writer_.heartbeat();
    }
}

int Publisher::run(bool first_grabbed) {
    const int code = wait_for_readers() ? run_loop(first_grabbed) : 0;
    refresh_counters();
    return code;
}

int Publisher::run_loop(bool first_grabbed) {
    auto stop = [] { return stop_requested(); };
    auto keep_alive = [this] { chores(""); };
    bool grabbed = first_grabbed;
    int empty_restarts = 0;  // a looping source that restarts onto nothing ends
    while (!stop_requested()) {
        if (plan_.max_frames != 0 && counters_.frames >= plan_.max_frames) break;
        if (!pacer_.wait(stop, keep_alive)) break;
        chores("");
        if (plan_.on_demand) {
            const Demand demand = idle_while_unread();
            if (demand == Demand::stop) break;
            if (demand == Demand::reopened) grabbed = false;
        }
        if (!grabbed) {
            switch (source_.grab()) {
                case Grab::frame:
                    grabbed = true;
                    break;
                case Grab::end:
                    if (source_.live()) {
                        if (!plan_.reconnect || !reconnect()) return 0;
                        continue;
                    }
                    if (!plan_.loop || ++empty_restarts > 1) return 0;
                    if (!source_.restart()) {
                        failure_ = "cannot reopen " + source_.description() + " to loop it";
                        return 1;
                    }
                    continue;
                case Grab::failed:
                    if (!plan_.reconnect || !reconnect()) return 0;
                    continue;
            }
        }
        grabbed = false;
        empty_restarts = 0;
        const std::int64_t captured = source_.capture_ns();
        if (publish_grabbed(captured != 0 ? captured : now_ns()) == Step::failed) return 1;
    }
    return 0;
}

bool Publisher::convert_into(const cv::Mat& decoded, PixelFormat from, WriteSlot& slot) {
    const FrameFormat& to = slot.format();
    const cv::Size size(static_cast<int>(to.width), static_cast<int>(to.height));
    const int interpolation =  // shrink : grow
        size.area() < decoded.size().area() ? cv::INTER_AREA : cv::INTER_LINEAR;
    if (from == to.pixel_format && to.plane_count == 1) {
        // The bytes are already in order (gray16 keeps all its 16 bits).
        cv::Mat into = plane_mat(slot, 0);
        if (decoded.size() == size)
            decoded.copyTo(into);
        else
            cv::resize(decoded, into, size, 0, 0, interpolation);
        return true;
    }
    // Everything else goes through BGR: the adapter's one conversion each way,
    // and from_bgr writes the slot's planes itself.
    const cv::Mat* bgr = &decoded;
    if (from != PixelFormat::bgr24) {
        if (!to_bgr(reinterpret_cast<const std::byte*>(decoded.data), format_of(decoded, from),
                    bgr_))
            return false;
        bgr = &bgr_;
    }
    if (bgr->size() != size) {
        cv::resize(*bgr, resized_, size, 0, 0, interpolation);
        bgr = &resized_;
    }
    from_bgr(*bgr, slot.data(), to, scratch_);
    return true;
}

Publisher::Step Publisher::publish_written(std::int64_t capture_ns) {
    const FrameFormat format = publish_format(source_.expected_shape(), plan_);
    auto acquired = writer_.acquire(format);
    if (!acquired) {
        if (acquired.error().code == Errc::no_free_slot) return Step::skipped;  // counted
        failure_ = acquired.error().message;
        return Step::failed;
    }
    WriteSlot& slot = *acquired;
    if (!source_.write_into(slot.data(), slot.format(), slot.sequence()))
        return Step::skipped;  // slot abandoned
    if (source_.stamps()) stamp_frame(slot.data(), slot.format(), slot.sequence());
    slot.commit(capture_ns);
    ++counters_.frames;
    return Step::published;
}

bool Publisher::fit_slot(std::optional<WriteSlot>& slot, const FrameFormat& format) {
    if (slot->format() == format) return true;
    // A shape that still fits the slot capacity needs only a new description.
    if (format.bytes() <= slot->capacity()) return slot->set_format(format).ok();
    // One that does not: a new slot from acquire(), which replaces the segment.
    slot.reset();
    auto fresh = writer_.acquire(format);
    if (!fresh) {
        if (fresh.error().code != Errc::no_free_slot) failure_ = fresh.error().message;
        return false;
    }
    slot.emplace(std::move(*fresh));
    return true;
}

Publisher::Step Publisher::publish_grabbed(std::int64_t capture_ns) {
    if (source_.writes_slots()) return publish_written(capture_ns);
    const SourceShape shape = learned_shape_.value_or(source_.expected_shape());
    const FrameFormat format = publish_format(shape, plan_);
    std::optional<WriteSlot> slot;
    {
        auto acquired = writer_.acquire(format);
        if (!acquired) {
            if (acquired.error().code == Errc::no_free_slot) return Step::skipped;  // counted
            failure_ = acquired.error().message;
            return Step::failed;
        }
        slot.emplace(std::move(*acquired));
    }

    // The decoder's output is the slot's format exactly: decode into the slot.
    const bool direct = format.width == static_cast<std::uint32_t>(shape.width) &&
                        format.height == static_cast<std::uint32_t>(shape.height) &&
                        format.cv_type == shape.cv_type &&
                        format.pixel_format == natural_format(shape);
    if (direct) {
        cv::Mat view = as_mat(*slot);
        if (!source_.retrieve(view, slot->sequence())) return Step::skipped;  // slot abandoned
        learned_shape_ = source_.shape_of(view);
        if (view.data != reinterpret_cast<unsigned char*>(slot->data())) {
            // The decoder allocated its own buffer (another size or type than
            // expected): copy this frame in, and expect the new shape next time.
            ++counters_.zero_copy_misses;
            const FrameFormat actual = publish_format(*learned_shape_, plan_);
            if (!fit_slot(slot, actual)) return failure_.empty() ? Step::skipped : Step::failed;
            if (!convert_into(view, natural_format(*learned_shape_), *slot)) return Step::skipped;
        }
    } else {
        if (!source_.retrieve(decoded_, slot->sequence())) return Step::skipped;
        learned_shape_ = source_.shape_of(decoded_);
        const FrameFormat actual = publish_format(*learned_shape_, plan_);
        if (!fit_slot(slot, actual)) return failure_.empty() ? Step::skipped : Step::failed;
        if (!convert_into(decoded_, natural_format(*learned_shape_), *slot)) return Step::skipped;
    }

    if (source_.stamps()) stamp_frame(slot->data(), slot->format(), slot->sequence());
    slot->commit(capture_ns);
    ++counters_.frames;
    return Step::published;
}

bool Publisher::wait_for_readers() {
    if (plan_.wait_readers == 0) return !stop_requested();
    const std::string state = "(waiting for " + std::to_string(plan_.wait_readers) + " readers)";
    // Attaching has no wake-up to wait on; look every 5 ms (no frame is due).
    // The count must hold on two looks in a row: a reader is counted as soon as
    // it claims its entry, a moment before it notes where the stream stands.
    int looks = 0;
    while (looks < 2) {
        looks = writer_.readers_attached() >= plan_.wait_readers ? looks + 1 : 0;
        if (!sleep_until(
                Clock::now() + std::chrono::milliseconds(5), [] { return stop_requested(); },
                [] {}))
            return false;
        chores(state);
    }
    return !stop_requested();
}

Publisher::Demand Publisher::idle_while_unread() {
    const auto now = Clock::now();
    if (writer_.readers_attached() > 0) {  // no system call: the reader table
        last_reader_ = now;
        return Demand::reading;
    }
    if (now - last_reader_ < plan_.idle_after) return Demand::reading;
    source_.suspend();
    writer_.set_idle(true);
    // Sleeps on the segment's attach futex: a reader claiming its entry wakes
    // it (PROTOCOL.md "Attaching wakes the writer"). Slices only to see a stop.
    const std::string state = "(idle: no readers, source closed)";
    while (!stop_requested() && !writer_.wait_for_reader(std::chrono::milliseconds(200)))
        chores(state);
    writer_.set_idle(false);
    if (stop_requested()) return Demand::stop;
    last_reader_ = Clock::now();
    ++counters_.reopened;
    if (!source_.restart() && !(plan_.reconnect && reconnect())) {
        failure_.clear();
        return Demand::stop;
    }
    return Demand::reopened;
}

bool Publisher::reconnect() {
    auto backoff = std::chrono::milliseconds(500);
    constexpr auto kMaxBackoff = std::chrono::seconds(8);
    for (std::uint64_t attempt = 1; !stop_requested(); ++attempt) {
        const std::string state = "(source stalled: reconnect attempt " + std::to_string(attempt) +
                                  " in " + std::to_string(backoff.count()) + " ms)";
        chores(state);
        writer_.heartbeat();  // the writer lives; only the source stalls
        if (!sleep_until(
                Clock::now() + backoff, [] { return stop_requested(); }, [&] { chores(state); }))
            return false;
        if (source_.restart()) {
            ++counters_.reconnects;
            return true;
        }
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    }
    return false;
}

}  // namespace framebus::writer
