// A frame stamp: the frame number and a checksum of every other byte of the
// frame (every row of every plane), written into the first 24 bytes of
// plane 0's row 0. The built-in test pattern
// carries one, so any reader (`framebus-reader --verify`, the tests, the kill
// matrix) can check a whole frame for tearing without knowing how it was drawn.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "framebus/frame.hpp"

namespace framebus {

inline constexpr std::size_t kStampBytes = 24;  // number, ~number, checksum

// Checksum of every byte of the frame's rows, in every plane, except the stamp
// itself (padding past a row's pixels is not part of the frame and skipped).
// `frame` is the slot's start; planes lie at their offsets from it.
[[nodiscard]] std::uint64_t frame_checksum(const std::byte* frame, const FrameFormat& format);

// Writes the stamp; needs a row of at least kStampBytes. False if it does not fit.
bool stamp_frame(std::byte* frame, const FrameFormat& format, std::uint64_t number);

enum class StampCheck { ok, no_stamp, bad_checksum };
struct StampResult {
    StampCheck check = StampCheck::no_stamp;
    std::uint64_t number = 0;
};
[[nodiscard]] StampResult check_stamp(const std::byte* frame, const FrameFormat& format);

}  // namespace framebus
