// --snapshot: wait for a frame (up to --duration, if given), save it, exit.
#pragma once

#include "framebus/reader.hpp"
#include "options.hpp"

namespace framebus::reader {

// Returns the exit code: 0 saved, 1 no frame came or the file could not be
// written (or --verify failed), 2 input error.
[[nodiscard]] int run_snapshot(const Options& options, Reader& reader);

}  // namespace framebus::reader
