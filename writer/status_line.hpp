// What the writer has done: the status line on stderr (about once a second,
// like ffmpeg's) and the one summary line at exit.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string_view>

#include "pacer.hpp"

namespace framebus::writer {

struct PublishCounters {
    std::uint64_t frames = 0;            // published (committed)
    std::uint64_t dropped = 0;           // no free slot: every slot held by readers
    std::uint64_t zero_copy_misses = 0;  // the decoder did not write into the slot
    std::uint64_t decode_errors = 0;     // frames the source had but could not decode
    std::uint64_t replaced = 0;          // segment replacements (frame outgrew the slots)
    std::uint64_t reconnects = 0;        // live source reopened
    std::uint64_t reopened = 0;          // --on-demand: source reopened for a reader
    std::uint64_t newest_reused = 0;     // --reuse-newest: frames written over the one before
};

class StatusLine {
  public:
    // Disabled: prints nothing (the summary still prints).
    StatusLine(bool enabled, std::FILE* out);

    // Prints a status line if a second has passed since the last one.
    // Returns true when it is time for the other once-a-second chores.
    bool tick(const PublishCounters& counters, std::uint32_t readers, std::string_view state);

    // "writer summary: frames=.. dropped=.. zero_copy_misses=.. decode_errors=.. ..."
    void summary(const PublishCounters& counters);

  private:
    bool enabled_;
    bool terminal_;  // overwrite one line with \r, else one line per update
    std::FILE* out_;
    Clock::time_point last_ = Clock::now();
    std::uint64_t last_frames_ = 0;
    bool line_open_ = false;
};

}  // namespace framebus::writer
