// What the command line asks framebus-reader to do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace framebus::reader {

struct Options {
    std::string name = "framebus";
    bool headless = false;                // also when $DISPLAY is unset
    std::optional<std::string> snapshot;  // save one frame there and exit
    bool every = false;                   // next() instead of latest()
    double wait_seconds = 0;              // for the segment to appear
    std::uint32_t spin_us = 0;            // adaptive wait: busy-poll this long first
    std::uint64_t max_frames = 0;         // 0: no limit
    double duration_seconds = 0;          // 0: no limit
    bool exit_on_eos = true;
    bool verify = false;  // check the test pattern's stamps
    bool quiet = false;   // no stats or event lines on stderr
    // Test hook (hidden option --hold-ms): sleep this long while holding each
    // lease, to make a reader slow on purpose.
    std::uint32_t hold_ms = 0;
};

// Runs the reader; returns the exit code (0 ok, 1 failed, 2 usage or input error).
[[nodiscard]] int run(const Options& options);

}  // namespace framebus::reader
