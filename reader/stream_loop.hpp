// Streaming: frames to a window or to stats lines, following the name
// through writer deaths, restarts and segment replacements (the library's
// ReaderOptions::follow).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "frame_window.hpp"
#include "framebus/reader.hpp"
#include "latency.hpp"
#include "options.hpp"
#include "report.hpp"

namespace framebus::reader {

// Latencies kept per stats interval (about a second of frames at 16 kHz).
inline constexpr std::size_t kIntervalSamples = 16384;

enum class Phase {
    streaming,
    writer_gone,  // keep the last frame, look for a new writer under the name
    ended,        // end of stream with --no-exit-on-eos: look for a new writer too
};

class StreamLoop {
  public:
    // `window` null: headless.
    StreamLoop(const Options& options, Reader& reader, std::unique_ptr<FrameWindow> window);

    // Until quit, a stop signal, --max-frames, --duration, or the end of the
    // stream (with --exit-on-eos). Prints the summary; returns the exit code.
    [[nodiscard]] int run();

  private:
    // Leases a frame (stream order, or the newest), shows, checks and counts
    // it if it is new; optionally saves it or keeps a private copy.
    // Returns false when there was no frame to lease.
    struct Take {
        bool newest = false;
        bool save = false;
        bool keep_copy = false;
    };
    Result<bool> take_frame(Take take);

    void on_key(int key);
    void enter(Phase phase);
    void look_for_writer();  // in writer_gone / ended: has a new writer come?
    void on_followed();      // the reader switched to a new segment under the name
    void tick(std::int64_t now);
    // "writer stalled" once when the writer lives but publishes nothing and
    // its heartbeat stopped (SIGSTOP, a hang); "resumed" once it is back.
    void check_stall();
    void set_stalled(bool stalled);
    void update_title();
    [[nodiscard]] std::string interval_percentile_us(double p);
    [[nodiscard]] std::int64_t deadline_ns() const { return end_ns_.value_or(INT64_MAX); }
    [[nodiscard]] bool done() const;
    void event(const std::string& text) const;  // a line on stderr unless --quiet
    [[nodiscard]] Summary summary() const;

    const Options& options_;
    Reader& reader_;  // follows its name (ReaderOptions::follow)
    std::uint32_t writer_pid_;
    std::unique_ptr<FrameWindow> window_;
    Verifier verifier_;
    IntervalLatencies interval_latencies_;
    std::unique_ptr<LatencyHistogram> histogram_;  // 30 KB: not on the stack

    Phase phase_ = Phase::streaming;
    bool paused_ = false;
    bool quit_ = false;
    bool stalled_ = false;
    cv::Mat conversion_;  // a frame converted for display, reused while the shape stays
    cv::Mat kept_frame_;  // private copy shown while paused or while the writer is gone
    std::optional<std::int64_t> end_ns_;
    std::int64_t next_tick_ns_ = 0;
    std::int64_t next_follow_ns_ = 0;
    std::int64_t interval_start_ns_ = 0;
    std::uint64_t interval_frames_ = 0;
    double interval_fps_ = 0;
    std::int64_t first_frame_ns_ = 0;
    std::int64_t last_frame_ns_ = 0;
    FrameFormat last_format_{};
    std::uint64_t last_shown_sequence_ = 0;
    std::string last_error_;  // of looking for a writer, reported once
};

}  // namespace framebus::reader
