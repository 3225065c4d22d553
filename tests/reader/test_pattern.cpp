#include "test_pattern.hpp"

namespace framebus::test {

namespace {

struct Yuv {
    std::uint8_t y, u, v;
};

// BT.601 limited range, the YUV that OpenCV's I420/NV12/YUY2 conversions read.
Yuv yuv_of(Rgb c) {
    const double r = c.r, g = c.g, b = c.b;
    auto clamp = [](double v) {
        return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
    };
    return {clamp(16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256),
            clamp(128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256),
            clamp(128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256)};
}

std::uint8_t gray_of(Rgb c) {
    return static_cast<std::uint8_t>((c.r * 299 + c.g * 587 + c.b * 114) / 1000);
}

std::uint8_t* row_of(std::byte* frame, const FrameFormat& format, std::uint32_t plane,
                     std::uint64_t y) {
    return reinterpret_cast<std::uint8_t*>(frame + format.planes[plane].offset +
                                           y * format.planes[plane].stride);
}

}  // namespace

void draw_blocks(std::byte* frame, const FrameFormat& format) {
    const std::uint32_t w = format.width, h = format.height;
    switch (format.pixel_format) {
        case PixelFormat::i420:
        case PixelFormat::nv12:
            for (std::uint32_t y = 0; y < h; ++y)
                for (std::uint32_t x = 0; x < w; ++x)
                    row_of(frame, format, 0, y)[x] = yuv_of(block_colour(x, y, w, h)).y;
            for (std::uint32_t y = 0; y < h / 2; ++y)
                for (std::uint32_t x = 0; x < w / 2; ++x) {
                    const Yuv c = yuv_of(block_colour(2 * x, 2 * y, w, h));
                    if (format.pixel_format == PixelFormat::i420) {
                        row_of(frame, format, 1, y)[x] = c.u;
                        row_of(frame, format, 2, y)[x] = c.v;
                    } else {
                        row_of(frame, format, 1, y)[2 * x] = c.u;
                        row_of(frame, format, 1, y)[2 * x + 1] = c.v;
                    }
                }
            return;
        default:
            break;
    }
    for (std::uint32_t y = 0; y < h; ++y) {
        auto* row = row_of(frame, format, 0, y);
        for (std::uint32_t x = 0; x < w; ++x) {
            const Rgb c = block_colour(x, y, w, h);
            switch (format.pixel_format) {
                case PixelFormat::rgb24:
                    row[3 * x] = c.r, row[3 * x + 1] = c.g, row[3 * x + 2] = c.b;
                    break;
                case PixelFormat::gray8:
                    row[x] = gray_of(c);
                    break;
                case PixelFormat::gray16:  // little-endian, the gray level times 257
                    row[2 * x] = row[2 * x + 1] = gray_of(c);
                    break;
                case PixelFormat::bgra32:
                    row[4 * x] = c.b, row[4 * x + 1] = c.g, row[4 * x + 2] = c.r;
                    row[4 * x + 3] = 255;
                    break;
                case PixelFormat::rgba32:
                    row[4 * x] = c.r, row[4 * x + 1] = c.g, row[4 * x + 2] = c.b;
                    row[4 * x + 3] = 255;
                    break;
                case PixelFormat::yuyv: {  // pairs share the left pixel's chroma
                    const Yuv p = yuv_of(c);
                    const Yuv pair = yuv_of(block_colour(x & ~1u, y, w, h));
                    row[2 * x] = p.y;
                    row[2 * x + 1] = (x & 1) == 0 ? pair.u : pair.v;
                    break;
                }
                default:  // bgr24
                    row[3 * x] = c.b, row[3 * x + 1] = c.g, row[3 * x + 2] = c.r;
                    break;
            }
        }
    }
}

void draw_numbered(std::byte* frame, const FrameFormat& format, std::uint64_t sequence) {
    for (std::uint32_t p = 0; p < format.plane_count; ++p) {
        const std::uint64_t row_bytes = format.plane_row_bytes(p);
        for (std::uint64_t y = 0; y < format.plane_rows(p); ++y) {
            auto* row = row_of(frame, format, p, y);
            for (std::uint64_t i = 0; i < row_bytes; ++i)
                row[i] = static_cast<std::uint8_t>(sequence * 7 + y * 3 + i);
        }
    }
}

}  // namespace framebus::test
