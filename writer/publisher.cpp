#include "publisher.hpp"

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

// cv::cvtColor code from `from` to `to`; -1: the bytes are already in order.
int color_conversion(PixelFormat from, PixelFormat to) {
    using P = PixelFormat;
    if (from == to || (from == P::gray16 && to == P::gray8)) return -1;
    switch (from) {
        case P::gray8:
        case P::gray16:
            return to == P::bgr24   ? cv::COLOR_GRAY2BGR
                   : to == P::rgb24 ? cv::COLOR_GRAY2RGB
                                    : cv::COLOR_GRAY2BGRA;
        case P::rgb24:
            return to == P::bgr24   ? cv::COLOR_RGB2BGR
                   : to == P::gray8 ? cv::COLOR_RGB2GRAY
                                    : cv::COLOR_RGB2BGRA;
        case P::bgra32:
            return to == P::bgr24   ? cv::COLOR_BGRA2BGR
                   : to == P::rgb24 ? cv::COLOR_BGRA2RGB
                                    : cv::COLOR_BGRA2GRAY;
        case P::rgba32:
            return to == P::bgr24   ? cv::COLOR_RGBA2BGR
                   : to == P::rgb24 ? cv::COLOR_RGBA2RGB
                                    : cv::COLOR_RGBA2GRAY;
        default:  // bgr24, and unknown 3-channel data taken as OpenCV's BGR
            return to == P::rgb24   ? cv::COLOR_BGR2RGB
                   : to == P::gray8 ? cv::COLOR_BGR2GRAY
                                    : cv::COLOR_BGR2BGRA;
    }
}

// Decoded frame `src` (in `from`) into `dst` (a slot: its size and type are
// the target). Writes into dst's memory: cv::cvtColor and cv::resize only
// reallocate a destination of another shape, and dst has exactly the shape
// they produce.
void convert_into(const cv::Mat& src, PixelFormat from, cv::Mat& dst, PixelFormat to,
                  cv::Mat& depth_scratch, cv::Mat& scratch) {
    const cv::Mat* in = &src;
    if (src.depth() != dst.depth()) {
        src.convertTo(depth_scratch, dst.depth(), src.depth() == CV_16U ? 1.0 / 256 : 1.0);
        in = &depth_scratch;
    }
    const int code = color_conversion(from, to);
    const bool same_size = in->size() == dst.size();
    const int interpolation =
        dst.total() < in->total() ? cv::INTER_AREA : cv::INTER_LINEAR;  // shrink : grow
    if (same_size) {
        if (code < 0)
            in->copyTo(dst);
        else
            cv::cvtColor(*in, dst, code);
    } else if (code < 0) {
        cv::resize(*in, dst, dst.size(), 0, 0, interpolation);
    } else {
        cv::cvtColor(*in, scratch, code);
        cv::resize(scratch, dst, dst.size(), 0, 0, interpolation);
    }
}

}  // namespace

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
    counters_.decode_errors = source_.decode_errors();
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
        if (publish_grabbed(now_ns()) == Step::failed) return 1;
    }
    return 0;
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
            cv::Mat into = as_mat(*slot);
            convert_into(view, natural_format(*learned_shape_), into, actual.pixel_format,
                         depth_scratch_, scratch_);
        }
    } else {
        if (!source_.retrieve(decoded_, slot->sequence())) return Step::skipped;
        learned_shape_ = source_.shape_of(decoded_);
        const FrameFormat actual = publish_format(*learned_shape_, plan_);
        if (!fit_slot(slot, actual)) return failure_.empty() ? Step::skipped : Step::failed;
        cv::Mat into = as_mat(*slot);
        convert_into(decoded_, natural_format(*learned_shape_), into, actual.pixel_format,
                     depth_scratch_, scratch_);
        if (into.data != reinterpret_cast<unsigned char*>(slot->data())) {
            // Not expected (the conversion reallocated its destination): count it.
            ++counters_.zero_copy_misses;
            cv::Mat again = as_mat(*slot);
            into.copyTo(again);
        }
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
