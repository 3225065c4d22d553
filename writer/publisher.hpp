// The publish loop: grab a frame, lease a slot for it, have the decoder write
// straight into the slot, commit. Everything per frame reuses memory set up
// once (the slot itself, or one conversion buffer when --resize/--format ask).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "frame_source.hpp"
#include "framebus/writer.hpp"
#include "options.hpp"
#include "pacer.hpp"
#include "status_line.hpp"

namespace framebus::writer {

struct PublishPlan {
    std::optional<Size> resize;
    std::optional<PixelFormat> format;
    std::uint64_t max_frames = 0;  // 0: no limit
    bool loop = false;
    bool reconnect = false;
    double fps = 0;                  // 0: as fast as the source gives
    std::uint32_t wait_readers = 0;  // readers to wait for before the first frame
    bool on_demand = false;          // close the source while no reader is attached
    std::chrono::milliseconds idle_after{5000};
};

// Frames of this format can be published (a subsampled format needs even
// sides): else one clear line for the user.
[[nodiscard]] Status check_publishable(const FrameFormat& format);

// The slot format a decoded frame of `shape` is published in.
[[nodiscard]] FrameFormat publish_format(const SourceShape& shape, const PublishPlan& plan);

class Publisher {
  public:
    Publisher(Writer& writer, FrameSource& source, const PublishPlan& plan, StatusLine& status);

    // Runs until the source ends (and does not loop), --max-frames, or a stop
    // signal. `first_grabbed`: the source already holds its first frame.
    // Returns the exit code (0, or 1 if publishing failed).
    [[nodiscard]] int run(bool first_grabbed);

    [[nodiscard]] const PublishCounters& counters() const { return counters_; }
    [[nodiscard]] const std::string& failure() const { return failure_; }

  private:
    enum class Step { published, skipped, failed };
    int run_loop(bool first_grabbed);
    Step publish_grabbed(std::int64_t capture_ns);
    Step publish_written(std::int64_t capture_ns);  // a source that writes the slot itself
    // `decoded` (in pixel format `from`) into the slot's format and size.
    bool convert_into(const cv::Mat& decoded, PixelFormat from, WriteSlot& slot);
    bool fit_slot(std::optional<WriteSlot>& slot, const FrameFormat& format);
    bool reconnect();
    bool wait_for_readers();
    enum class Demand { reading, reopened, stop };
    Demand idle_while_unread();  // --on-demand
    void chores(std::string_view state);
    void refresh_counters();

    Writer& writer_;
    FrameSource& source_;
    PublishPlan plan_;
    StatusLine& status_;
    Pacer pacer_;
    PublishCounters counters_;
    Clock::time_point last_reader_ = Clock::now();
    std::optional<SourceShape> learned_shape_;  // what the decoder really produced last
    cv::Mat decoded_;  // decoder output when it cannot go straight into the slot
    cv::Mat bgr_;      // the decoded frame in BGR, when it is not already
    cv::Mat resized_;  // ... and at the slot's size
    cv::Mat scratch_;  // from_bgr's own intermediate (NV12, YUYV, gray16)
    std::string failure_;
};

}  // namespace framebus::writer
