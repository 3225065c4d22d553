#include "test_pattern.hpp"

namespace framebus::test {

void draw_blocks(std::byte* frame, const FrameFormat& format) {
    for (std::uint32_t y = 0; y < format.height; ++y) {
        auto* row = reinterpret_cast<std::uint8_t*>(frame + y * format.stride());
        for (std::uint32_t x = 0; x < format.width; ++x) {
            const Rgb c = block_colour(x, y, format.width, format.height);
            switch (format.pixel_format) {
                case PixelFormat::rgb24:
                    row[3 * x] = c.r, row[3 * x + 1] = c.g, row[3 * x + 2] = c.b;
                    break;
                case PixelFormat::gray8:
                    row[x] = static_cast<std::uint8_t>((c.r * 299 + c.g * 587 + c.b * 114) / 1000);
                    break;
                default:  // bgr24
                    row[3 * x] = c.b, row[3 * x + 1] = c.g, row[3 * x + 2] = c.r;
                    break;
            }
        }
    }
}

void draw_numbered(std::byte* frame, const FrameFormat& format, std::uint64_t sequence) {
    const std::uint64_t row_bytes = format.plane_row_bytes(0);
    for (std::uint32_t y = 0; y < format.height; ++y) {
        auto* row = reinterpret_cast<std::uint8_t*>(frame + y * format.stride());
        for (std::uint64_t i = 0; i < row_bytes; ++i)
            row[i] = static_cast<std::uint8_t>(sequence * 7 + y * 3 + i);
    }
}

}  // namespace framebus::test
