#pragma once

#include <string>
#include <string_view>

#include "framebus/error.hpp"

namespace framebus {

// Names: 1..63 of [A-Za-z0-9._-], not starting with '.' (no hidden files, no
// "." or "..", and room for our temporary names), never a '/'.
[[nodiscard]] Status validate_name(std::string_view name);

// Where POSIX shared memory lives on Linux (glibc's shm_open uses it).
inline constexpr std::string_view kShmDirectory = "/dev/shm";
[[nodiscard]] std::string segment_path(std::string_view name);

// Segments are built under "<prefix><pid>-<n>-<name>" and then linked or
// renamed into place; the leading '.' keeps them out of the name space.
inline constexpr std::string_view kTemporaryPrefix = ".fbnew-";

}  // namespace framebus
