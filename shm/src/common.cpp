// Small shared helpers: names, pixel formats, error strings.
#include <algorithm>
#include <array>
#include <string>

#include "framebus/error.hpp"
#include "framebus/frame.hpp"
#include "framebus/layout.hpp"
#include "framebus/name.hpp"
#include "framebus/reader.hpp"

namespace framebus {

const char* to_string(Errc code) {
    switch (code) {
        case Errc::invalid_argument:
            return "invalid argument";
        case Errc::invalid_name:
            return "invalid name";
        case Errc::not_found:
            return "not found";
        case Errc::not_framebus:
            return "not a framebus segment";
        case Errc::corrupt:
            return "corrupt segment";
        case Errc::version_mismatch:
            return "layout version mismatch";
        case Errc::live_writer:
            return "live writer";
        case Errc::permission_denied:
            return "permission denied";
        case Errc::no_space:
            return "no space";
        case Errc::too_many_readers:
            return "too many readers";
        case Errc::lease_held:
            return "lease already held";
        case Errc::no_frame:
            return "no frame";
        case Errc::no_free_slot:
            return "no free slot";
        case Errc::frame_too_large:
            return "frame too large";
        case Errc::timed_out:
            return "timed out";
        case Errc::system:
            return "system error";
    }
    return "unknown error";
}

const char* to_string(WaitStatus status) {
    switch (status) {
        case WaitStatus::frame:
            return "frame";
        case WaitStatus::timed_out:
            return "timed out";
        case WaitStatus::end_of_stream:
            return "end of stream";
        case WaitStatus::writer_gone:
            return "writer gone";
        case WaitStatus::replaced:
            return "replaced";
    }
    return "unknown";
}

Status validate_name(std::string_view name) {
    auto bad = [&](const std::string& why) {
        return Error{Errc::invalid_name,
                     "invalid segment name '" + std::string(name) + "': " + why};
    };
    if (name.empty()) return bad("empty");
    if (name.size() > layout::kMaxNameLength)
        return bad("longer than " + std::to_string(layout::kMaxNameLength) + " characters");
    if (name.front() == '.') return bad("must not start with '.'");
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return bad("only letters, digits, '.', '_' and '-' are allowed");
    }
    return ok_status();
}

std::string segment_path(std::string_view name) {
    std::string path(kShmDirectory);
    if (name.empty() || name.front() != '/') path += '/';
    path += name;
    return path;
}

namespace {
struct FormatRow {
    PixelFormat format;
    const char* name;
    std::uint32_t bytes_per_pixel;
    std::int32_t cv_type;  // CV_MAKETYPE(depth, channels) = depth + ((channels - 1) << 3)
};
constexpr std::array<FormatRow, 7> kFormats{{
    {PixelFormat::unknown, "unknown", 0, 0},
    {PixelFormat::bgr24, "bgr24", 3, 0 + (2 << 3)},    // CV_8UC3
    {PixelFormat::rgb24, "rgb24", 3, 0 + (2 << 3)},    // CV_8UC3
    {PixelFormat::gray8, "gray8", 1, 0},               // CV_8UC1
    {PixelFormat::bgra32, "bgra32", 4, 0 + (3 << 3)},  // CV_8UC4
    {PixelFormat::rgba32, "rgba32", 4, 0 + (3 << 3)},  // CV_8UC4
    {PixelFormat::gray16, "gray16", 2, 2},             // CV_16UC1
}};
const FormatRow& row_of(PixelFormat format) {
    for (const auto& row : kFormats)
        if (row.format == format) return row;
    return kFormats[0];
}
}  // namespace

const char* to_string(PixelFormat format) {
    return row_of(format).name;
}
std::uint32_t bytes_per_pixel(PixelFormat format) {
    return row_of(format).bytes_per_pixel;
}
std::int32_t cv_type_of(PixelFormat format) {
    return row_of(format).cv_type;
}

std::optional<PixelFormat> parse_pixel_format(std::string_view text) {
    for (const auto& row : kFormats)
        if (text == row.name && row.format != PixelFormat::unknown) return row.format;
    return std::nullopt;
}

bool frame_fits(const FrameFormat& f, std::uint64_t capacity) {
    if (f.width == 0 || f.height == 0 || f.stride == 0) return false;
    if (product_exceeds(f.height, f.stride, capacity)) return false;
    // OpenCV's type: depth in the low 3 bits, channels - 1 above (up to 512).
    if (f.cv_type < 0 || f.cv_type >= (512 << 3)) return false;
    constexpr std::uint32_t kDepthBytes[8] = {1, 1, 2, 2, 4, 4, 8, 2};
    const std::uint64_t element =
        kDepthBytes[f.cv_type & 7] * (static_cast<std::uint64_t>(f.cv_type >> 3) + 1);
    if (product_exceeds(f.width, element, f.stride)) return false;
    if (static_cast<std::uint32_t>(f.pixel_format) >
        static_cast<std::uint32_t>(PixelFormat::gray16))
        return false;
    return f.pixel_format == PixelFormat::unknown || f.cv_type == cv_type_of(f.pixel_format);
}

FrameFormat FrameFormat::packed(std::uint32_t width, std::uint32_t height, PixelFormat format) {
    return FrameFormat{width, height, cv_type_of(format), format,
                       std::uint64_t{width} * bytes_per_pixel(format)};
}

}  // namespace framebus
