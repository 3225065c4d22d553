// Frames with a content the reader's tests know: shared by the test writer
// and the tests that compare what the reader saved or showed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "framebus/frame.hpp"

namespace framebus::test {

struct Rgb {
    std::uint8_t r, g, b;
};

// Quadrants of the `blocks` pattern: top-left, top-right, bottom-left, bottom-right.
inline constexpr std::array<Rgb, 4> kQuadrantColours{Rgb{230, 30, 30}, Rgb{30, 200, 60},
                                                     Rgb{40, 60, 220}, Rgb{240, 220, 40}};

// The colour of pixel (x, y) in the blocks pattern.
inline Rgb block_colour(std::uint32_t x, std::uint32_t y, std::uint32_t width,
                        std::uint32_t height) {
    const std::size_t quadrant = (y >= height / 2 ? 2 : 0) + (x >= width / 2 ? 1 : 0);
    return kQuadrantColours[quadrant];
}

// Writes the blocks pattern in the frame's pixel format (any; YUV in BT.601 limited range).
void draw_blocks(std::byte* frame, const FrameFormat& format);
// Bytes derived from the sequence number and the position.
void draw_numbered(std::byte* frame, const FrameFormat& format, std::uint64_t sequence);

}  // namespace framebus::test
