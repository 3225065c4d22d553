// A frame's self-description (DESIGN.md guarantee 6). No OpenCV here: cv_type
// carries OpenCV's type code as a plain integer so anything can embed the core.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace framebus {

// The numbers are stored in segments: never renumber, only add.
enum class PixelFormat : std::uint32_t {
    unknown = 0,
    bgr24 = 1,
    rgb24 = 2,
    gray8 = 3,
    bgra32 = 4,
    rgba32 = 5,
    gray16 = 6,  // little-endian 16-bit samples
    i420 = 7,    // YUV 4:2:0 planar: Y, then U and V at half width and half height
    nv12 = 8,    // YUV 4:2:0 semi-planar: Y, then interleaved UV at half height
    yuyv = 9,    // YUV 4:2:2 packed: Y0 U Y1 V (GStreamer's YUY2)
};

inline constexpr std::uint32_t kMaxPlanes = 3;

// Everything the bus knows about a pixel format: the one table (common.cpp).
struct PixelFormatInfo {
    PixelFormat format;
    const char* name;                            // as the programs, the CLI and JSON spell it
    std::uint32_t plane_count;                   // 1..kMaxPlanes
    std::uint32_t bytes_per_sample[kMaxPlanes];  // per (subsampled) pixel of each plane
    std::uint32_t x_shift[kMaxPlanes];           // log2 of each plane's horizontal subsampling
    std::uint32_t y_shift[kMaxPlanes];           // log2 of each plane's vertical subsampling
    // The whole frame as one cv::Mat, as OpenCV's cvtColor expects it:
    // I420/NV12 are CV_8UC1 with height * 3 / 2 rows, YUYV is CV_8UC2.
    std::int32_t cv_type;
    std::uint32_t size_multiple;  // width and height must be multiples of it (subsampling)
};

[[nodiscard]] const PixelFormatInfo& format_info(PixelFormat format);  // unknown's row if unknown
[[nodiscard]] std::span<const PixelFormatInfo> pixel_formats();        // every known format
[[nodiscard]] const char* to_string(PixelFormat format);
[[nodiscard]] std::optional<PixelFormat> parse_pixel_format(std::string_view text);
// OpenCV's CV_MAKETYPE for the whole frame (CV_8UC3 == 16 ...), without OpenCV.
[[nodiscard]] inline std::int32_t cv_type_of(PixelFormat format) {
    return format_info(format).cv_type;
}

// a * b > limit, without overflow (and without a division on the hot path).
[[nodiscard]] inline bool product_exceeds(std::uint64_t a, std::uint64_t b, std::uint64_t limit) {
    std::uint64_t product;
    return __builtin_mul_overflow(a, b, &product) || product > limit;
}

// Where one plane lies in the slot.
struct Plane {
    std::uint64_t offset = 0;  // bytes from the slot's start
    std::uint64_t stride = 0;  // bytes per row
    friend bool operator==(const Plane&, const Plane&) = default;
};

struct FrameFormat {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::int32_t cv_type = 0;
    PixelFormat pixel_format = PixelFormat::unknown;
    std::uint32_t plane_count = 1;
    std::array<Plane, kMaxPlanes> planes{};

    // A tightly packed frame of a known pixel format, planes back to back:
    // exactly the layout OpenCV's whole-frame YUV Mats expect.
    [[nodiscard]] static FrameFormat packed(std::uint32_t width, std::uint32_t height,
                                            PixelFormat format);
    // One plane of `stride` bytes per row (a packed format, or unknown).
    [[nodiscard]] static FrameFormat single_plane(std::uint32_t width, std::uint32_t height,
                                                  std::int32_t cv_type, PixelFormat format,
                                                  std::uint64_t stride);

    [[nodiscard]] std::uint64_t stride() const { return planes[0].stride; }
    [[nodiscard]] std::uint64_t plane_rows(std::uint32_t p) const;
    [[nodiscard]] std::uint64_t plane_row_bytes(std::uint32_t p) const;  // pixels, no padding
    // End of the last plane: the bytes of the slot the frame uses.
    [[nodiscard]] std::uint64_t bytes() const;
    // Planes laid out as OpenCV's whole-frame Mat sees them (one stride over
    // the whole frame), so as_mat() and cvtColor work without a copy.
    [[nodiscard]] bool opencv_layout() const;
    friend bool operator==(const FrameFormat&, const FrameFormat&) = default;
};

// Is this a self-consistent description of a frame that fits `capacity`
// bytes? Width and height non-zero (and multiples of the format's
// subsampling); the plane count the format's; each plane's rows fit its
// stride, planes in order without overlap, the last one ending inside the
// capacity; a known pixel format agrees with cv_type; for unknown formats a
// row of cv_type elements fits the stride. Used on every description that
// crosses the bus, both ways: nothing in a segment is trusted.
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
