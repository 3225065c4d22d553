// --snapshot: wait for a frame (up to --duration, if given), save it, exit.
#pragma once

#include "followed_stream.hpp"
#include "options.hpp"

namespace framebus::reader {

// Returns the exit code: 0 saved, 1 no frame came or the file could not be
// written (or --verify failed), 2 input error.
[[nodiscard]] int run_snapshot(const Options& options, FollowedStream& stream);

}  // namespace framebus::reader
