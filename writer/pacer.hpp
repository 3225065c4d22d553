// Paces publishing with absolute deadlines on the steady clock: frame k is due
// at start + k * period, so sleeps never accumulate error.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

namespace framebus::writer {

using Clock = std::chrono::steady_clock;

// Sleeps until `deadline` in steps of at most `step`, calling `on_step`
// between them; returns false early when `stop()` becomes true.
template <class Stop, class OnStep>
bool sleep_until(Clock::time_point deadline, Stop&& stop, OnStep&& on_step,
                 Clock::duration step = std::chrono::milliseconds(100)) {
    for (;;) {
        if (stop()) return false;
        const auto now = Clock::now();
        if (now >= deadline) return true;
        std::this_thread::sleep_until(std::min(deadline, now + step));
        on_step();
    }
}

class Pacer {
  public:
    // fps <= 0: no pacing.
    explicit Pacer(double fps)
        : period_(fps > 0 ? std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(1.0 / fps))
                          : Clock::duration::zero()) {}

    [[nodiscard]] bool paced() const { return period_ > Clock::duration::zero(); }

    // Waits for the next frame's deadline. Returns false if stopped meanwhile.
    template <class Stop, class OnStep>
    bool wait(Stop&& stop, OnStep&& on_step) {
        if (!paced()) return !stop();
        const auto now = Clock::now();
        // First frame, or so far behind (a stalled source) that catching up
        // would burst: start the schedule again from now.
        if (next_ == Clock::time_point{} || now > next_ + kMaxLag) next_ = now;
        const bool completed = sleep_until(next_, stop, on_step);
        next_ += period_;
        return completed;
    }

  private:
    static constexpr Clock::duration kMaxLag = std::chrono::milliseconds(500);
    Clock::duration period_;
    Clock::time_point next_{};
};

}  // namespace framebus::writer
