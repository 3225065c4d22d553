// A frame's self-description (DESIGN.md guarantee 6). No OpenCV here: cv_type
// carries OpenCV's type code as a plain integer so anything can embed the core.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace framebus {

enum class PixelFormat : std::uint32_t {
    unknown = 0,
    bgr24 = 1,
    rgb24 = 2,
    gray8 = 3,
    bgra32 = 4,
    rgba32 = 5,
    gray16 = 6,
};

[[nodiscard]] const char* to_string(PixelFormat format);
[[nodiscard]] std::optional<PixelFormat> parse_pixel_format(std::string_view text);
[[nodiscard]] std::uint32_t bytes_per_pixel(PixelFormat format);  // 0 for unknown
// OpenCV's CV_MAKETYPE for the format (CV_8UC3 == 16 ...), without OpenCV.
[[nodiscard]] std::int32_t cv_type_of(PixelFormat format);

// a * b > limit, without overflow (and without a division on the hot path).
[[nodiscard]] inline bool product_exceeds(std::uint64_t a, std::uint64_t b, std::uint64_t limit) {
    std::uint64_t product;
    return __builtin_mul_overflow(a, b, &product) || product > limit;
}

struct FrameFormat {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::int32_t cv_type = 0;
    PixelFormat pixel_format = PixelFormat::unknown;
    std::uint64_t stride = 0;  // bytes per row

    // A tightly packed frame of a known pixel format.
    [[nodiscard]] static FrameFormat packed(std::uint32_t width, std::uint32_t height,
                                            PixelFormat format);
    [[nodiscard]] std::uint64_t bytes() const { return stride * height; }
    friend bool operator==(const FrameFormat&, const FrameFormat&) = default;
};

// Is this a self-consistent description of a frame that fits `capacity`
// bytes? Width, height and stride non-zero; stride * height <= capacity; a
// row of pixels (width * the element size of cv_type) fits the stride; a known
// pixel format agrees with cv_type. Used on every description that crosses
// the bus, both ways: nothing in a segment is trusted.
[[nodiscard]] bool frame_fits(const FrameFormat& format, std::uint64_t capacity);

// Timestamps are CLOCK_MONOTONIC nanoseconds: anything outside this range in a
// segment is corrupt (and would overflow arithmetic on it).
inline constexpr std::int64_t kMaxTimestampNs = std::int64_t{1} << 62;
[[nodiscard]] inline bool plausible_timestamp(std::int64_t ns) {
    return ns >= 0 && ns <= kMaxTimestampNs;
}

struct FrameInfo {
    FrameFormat format;
    std::uint64_t sequence = 0;   // from 1
    std::int64_t capture_ns = 0;  // steady clock (CLOCK_MONOTONIC)
    std::int64_t publish_ns = 0;  // steady clock (CLOCK_MONOTONIC)
};

// The one clock of the bus: CLOCK_MONOTONIC, shared by all processes.
[[nodiscard]] inline std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace framebus
