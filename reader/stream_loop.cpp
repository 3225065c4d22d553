#include "stream_loop.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "framebus/inspect.hpp"
#include "framebus/opencv.hpp"

namespace framebus::reader {

namespace {
constexpr std::int64_t kFollowPollNs = 200 * kMillisecondNs;  // how often a lost name is looked up
constexpr std::int64_t kWindowPumpNs = 20 * kMillisecondNs;   // GUI stays responsive at 50 Hz
constexpr std::int64_t kStopCheckNs = 200 * kMillisecondNs;   // SIGINT is seen this fast
}  // namespace

StreamLoop::StreamLoop(const Options& options, Reader& reader, std::unique_ptr<FrameWindow> window)
    : options_(options),
      reader_(reader),
      writer_pid_(reader.writer_pid()),
      window_(std::move(window)),
      verifier_(options.verify),
      interval_latencies_(kIntervalSamples),
      histogram_(std::make_unique<LatencyHistogram>()) {}

void StreamLoop::event(const std::string& text) const {
    if (!options_.quiet) app::print(stderr, "framebus-reader: {}\n", text);
}

Result<bool> StreamLoop::take_frame(Take take) {
    Reader& reader = reader_;
    const std::uint64_t previous = reader.last_sequence();
    auto lease = (take.newest || !options_.every) ? reader.latest() : reader.next();
    if (!lease) {
        if (lease.error().code == Errc::no_frame) return false;  // overtaken, or nothing yet
        return lease.error();
    }
    const FrameInfo& info = lease->info();
    const bool is_new = info.sequence > previous;
    if (is_new) {
        set_stalled(false);
        std::int64_t seen_ns = now_ns();
        verifier_.check(*lease, options_.name);
        if (options_.hold_ms > 0) sleep_ns(std::int64_t{options_.hold_ms} * kMillisecondNs);
        if (window_) {
            window_->show(displayable(lease->data(), info.format, conversion_));
            seen_ns = now_ns();  // publish-to-display: the window has the frame now
        }
        const std::int64_t latency = seen_ns - info.publish_ns;
        interval_latencies_.add(latency);
        histogram_->add(latency);
        ++interval_frames_;
        if (first_frame_ns_ == 0) first_frame_ns_ = seen_ns;
        last_frame_ns_ = seen_ns;
        last_format_ = info.format;
        last_shown_sequence_ = info.sequence;
    } else if (take.keep_copy && window_) {
        window_->show(displayable(lease->data(), info.format, conversion_));  // what we keep
        last_shown_sequence_ = info.sequence;
    }
    if (take.save) {
        const std::string path = fmt::format("{}-{}.png", options_.name, info.sequence);
        if (auto saved = save_image(path, displayable(lease->data(), info.format, conversion_));
            !saved)
            event(saved.error().message);
        else
            event(
                fmt::format("saved {} ({}, frame {})", path, describe(info.format), info.sequence));
    }
    if (take.keep_copy) {
        displayable(lease->data(), info.format, conversion_).copyTo(kept_frame_);
    }
    return true;  // the lease is released here
}

void StreamLoop::on_key(int key) {
    switch (key & 0xff) {
        case 'q':
        case 27:  // Esc
            quit_ = true;
            break;
        case ' ':
            paused_ = !paused_;
            // Pausing freezes the newest frame in a private copy (for 's').
            if (paused_ && phase_ == Phase::streaming) (void)take_frame({true, false, true});
            event(paused_ ? "paused (space resumes)" : "resumed");
            update_title();
            break;
        case 's':
            if (paused_ || phase_ != Phase::streaming) {
                if (kept_frame_.empty()) break;
                const std::string path =
                    fmt::format("{}-{}.png", options_.name, last_shown_sequence_);
                // kept_frame_ is already in display order (BGR or gray).
                if (auto saved = save_image(path, kept_frame_); !saved)
                    event(saved.error().message);
                else
                    event(fmt::format("saved {}", path));
            } else {
                (void)take_frame({true, true, false});
            }
            break;
        default:
            break;
    }
}

void StreamLoop::enter(Phase phase) {
    if (phase == phase_) return;
    const std::uint32_t pid = reader_.writer_pid();
    if (phase != Phase::streaming && window_) {
        // The lease cannot outlive the segment we are about to leave: keep a copy.
        (void)take_frame({true, false, true});
    }
    phase_ = phase;
    stalled_ = false;  // gone or ended says more than stalled
    next_follow_ns_ = now_ns();
    last_error_.clear();
    switch (phase) {
        case Phase::writer_gone:
            event(
                fmt::format("writer of '{}' (pid {}) is gone; keeping the last frame, "
                            "waiting for a new writer",
                            options_.name, pid));
            break;
        case Phase::ended:
            event(fmt::format("end of stream on '{}'; waiting for a new writer", options_.name));
            break;
        case Phase::streaming:
            event(fmt::format("following the new writer of '{}' (pid {})", options_.name,
                              reader_.writer_pid()));
            break;
    }
    update_title();
}

void StreamLoop::look_for_writer() {
    // The reader follows its name (ReaderOptions::follow): a wait looks for a
    // new segment under it.
    if (reader_.wait(std::chrono::nanoseconds(0)) == WaitStatus::followed) on_followed();
}

void StreamLoop::on_followed() {
    const std::uint32_t previous_pid = std::exchange(writer_pid_, reader_.writer_pid());
    if (phase_ == Phase::streaming && writer_pid_ == previous_pid)
        event(fmt::format("segment '{}' was replaced (new frame size); following", options_.name));
    else if (phase_ == Phase::streaming)
        event(fmt::format("following the new writer of '{}' (pid {})", options_.name, writer_pid_));
    else
        enter(Phase::streaming);
}

void StreamLoop::check_stall() {
    // Once a second at most, and only after a second without a frame: the
    // inspection's system calls stay off the frame path.
    if (phase_ != Phase::streaming || interval_frames_ != 0) return;
    auto view = inspect(options_.name);
    if (!view || view->writer_pid != reader_.writer_pid()) return;  // another segment now
    set_stalled(health_of(*view, now_ns()) == SegmentHealth::stalled);
}

void StreamLoop::set_stalled(bool stalled) {
    if (stalled == stalled_) return;
    stalled_ = stalled;
    if (stalled)
        event(
            fmt::format("writer of '{}' (pid {}) stalled: alive, but no frame nor heartbeat "
                        "for 2 s",
                        options_.name, reader_.writer_pid()));
    else
        event(fmt::format("writer of '{}' (pid {}) resumed", options_.name, reader_.writer_pid()));
    update_title();
}

void StreamLoop::tick(std::int64_t now) {
    check_stall();
    const double seconds = static_cast<double>(now - interval_start_ns_) / 1e9;
    interval_fps_ = seconds > 0 ? static_cast<double>(interval_frames_) / seconds : 0;
    if (window_) {
        update_title();
    } else if (!options_.quiet) {
        std::string state;
        if (phase_ == Phase::writer_gone) state = " [writer gone]";
        if (phase_ == Phase::ended) state = " [end of stream]";
        if (phase_ == Phase::streaming && stalled_) state = " [writer stalled]";
        std::string verify;
        if (options_.verify)
            verify = fmt::format(" verified={} mismatches={}", verifier_.verified(),
                                 verifier_.mismatches());
        app::print(stderr,
                   "framebus-reader: {} {} seq={} fps={:.1f} frames={} skipped={} "
                   "latency_p50_us={} latency_p99_us={}{}{}\n",
                   options_.name, last_format_.width > 0 ? describe(last_format_) : "-",
                   last_shown_sequence_, interval_fps_, reader_.frames(), reader_.skipped(),
                   interval_percentile_us(0.50), interval_percentile_us(0.99), verify, state);
    }
    interval_latencies_.clear();
    interval_frames_ = 0;
    interval_start_ns_ = now;
    next_tick_ns_ = now + kSecondNs;
}

std::string StreamLoop::interval_percentile_us(double p) {
    if (interval_latencies_.size() == 0) return "-";  // no frame this interval
    return std::to_string(to_microseconds(interval_latencies_.percentile(p)));
}

void StreamLoop::update_title() {
    if (!window_) return;
    std::string title = fmt::format("framebus: {} | ", options_.name);
    if (last_format_.width == 0) {
        title += "waiting for frames";
    } else {
        title +=
            fmt::format("{} | {:.1f} fps | seq {} | skipped {} | latency ", describe(last_format_),
                        interval_fps_, last_shown_sequence_, reader_.skipped());
        if (interval_latencies_.size() > 0)
            title += fmt::format("{:.2f} ms",
                                 static_cast<double>(interval_latencies_.percentile(0.5)) / 1e6);
        else
            title += "-";
    }
    if (phase_ == Phase::writer_gone) title += " | writer gone";
    if (phase_ == Phase::ended) title += " | end of stream";
    if (phase_ == Phase::streaming && stalled_) title += " | writer stalled";
    if (paused_) title += " | paused";
    window_->set_title(title);
}

bool StreamLoop::done() const {
    if (quit_ || stop_requested()) return true;
    if (options_.max_frames > 0 && reader_.frames() >= options_.max_frames) return true;
    return end_ns_ && now_ns() >= *end_ns_;
}

Summary StreamLoop::summary() const {
    Summary s;
    s.frames = reader_.frames();
    s.skipped = reader_.skipped();
    s.verified = verifier_.verified();
    s.mismatches = verifier_.mismatches();
    if (s.frames >= 2 && last_frame_ns_ > first_frame_ns_)
        s.fps = static_cast<double>(s.frames - 1) * 1e9 /
                static_cast<double>(last_frame_ns_ - first_frame_ns_);
    s.latency_p50_ns = histogram_->percentile(0.50);
    s.latency_p99_ns = histogram_->percentile(0.99);
    s.writer_restarts = reader_.writer_restarts();
    return s;
}

int StreamLoop::run() {
    const std::int64_t start = now_ns();
    if (options_.duration_seconds > 0)
        end_ns_ = start + static_cast<std::int64_t>(options_.duration_seconds * 1e9);
    interval_start_ns_ = start;
    next_tick_ns_ = start + kSecondNs;
    update_title();
    std::optional<Error> failure;

    while (!done()) {
        const std::int64_t now = now_ns();
        if (now >= next_tick_ns_) tick(now);
        if (window_) {
            if (auto key = window_->pump(1)) on_key(*key);
            if (window_->closed()) break;
            if (quit_) break;
        }
        // Not streaming, or paused: nothing to lease; sleep until the next thing to do.
        if (paused_ || phase_ != Phase::streaming) {
            if (!paused_ && now >= next_follow_ns_) {
                look_for_writer();
                next_follow_ns_ = now + kFollowPollNs;
                if (phase_ == Phase::streaming) continue;
            }
            const std::int64_t wake =
                paused_ ? std::min(next_tick_ns_, deadline_ns())
                        : std::min({next_tick_ns_, next_follow_ns_, deadline_ns()});
            const std::int64_t idle = wake - now;
            if (window_) {
                const auto ms =
                    std::clamp<std::int64_t>(idle, kMillisecondNs, kWindowPumpNs) / kMillisecondNs;
                if (auto key = window_->pump(static_cast<int>(ms))) on_key(*key);
            } else {
                sleep_ns(idle);
            }
            continue;
        }

        // Short waits: a stop signal does not end a futex wait early.
        std::int64_t timeout = std::min({next_tick_ns_, deadline_ns(), now + kStopCheckNs}) - now;
        if (window_) timeout = std::min(timeout, kWindowPumpNs);
        timeout = std::max<std::int64_t>(timeout, 0);
        switch (reader_.wait(std::chrono::nanoseconds(timeout))) {
            case WaitStatus::frame:
                if (auto taken = take_frame({}); !taken) failure = taken.error();
                break;
            case WaitStatus::timed_out:
                break;
            case WaitStatus::end_of_stream:
                if (options_.exit_on_eos) {
                    event(fmt::format("end of stream on '{}'", options_.name));
                    quit_ = true;
                } else {
                    enter(Phase::ended);
                }
                break;
            case WaitStatus::writer_gone:
                enter(Phase::writer_gone);
                break;
            case WaitStatus::followed:
                on_followed();
                break;
            case WaitStatus::replaced:  // not while following
                break;
        }
        if (failure) break;
    }

    print_summary(summary());
    if (failure) {
        print_error(failure->message);
        return exit_code_of(*failure);
    }
    return verifier_.mismatches() > 0 ? 1 : 0;
}

}  // namespace framebus::reader
