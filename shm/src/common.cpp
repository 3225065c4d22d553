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
        case WaitStatus::followed:
            return "followed";
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
// CV_MAKETYPE(depth, channels) = depth + ((channels - 1) << 3)
constexpr std::int32_t cv_make_type(std::int32_t depth, std::int32_t channels) {
    return depth + ((channels - 1) << 3);
}
constexpr std::int32_t kCv8U = 0, kCv16U = 2;

// The one pixel-format table. Index = the enum's value.
constexpr std::array<PixelFormatInfo, 10> kFormats{{
    {PixelFormat::unknown, "unknown", 1, {0}, {0}, {0}, 0, 1},
    {PixelFormat::bgr24, "bgr24", 1, {3}, {0}, {0}, cv_make_type(kCv8U, 3), 1},
    {PixelFormat::rgb24, "rgb24", 1, {3}, {0}, {0}, cv_make_type(kCv8U, 3), 1},
    {PixelFormat::gray8, "gray8", 1, {1}, {0}, {0}, cv_make_type(kCv8U, 1), 1},
    {PixelFormat::bgra32, "bgra32", 1, {4}, {0}, {0}, cv_make_type(kCv8U, 4), 1},
    {PixelFormat::rgba32, "rgba32", 1, {4}, {0}, {0}, cv_make_type(kCv8U, 4), 1},
    {PixelFormat::gray16, "gray16", 1, {2}, {0}, {0}, cv_make_type(kCv16U, 1), 1},
    {PixelFormat::i420, "i420", 3, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}, cv_make_type(kCv8U, 1), 2},
    {PixelFormat::nv12, "nv12", 2, {1, 2}, {0, 1}, {0, 1}, cv_make_type(kCv8U, 1), 2},
    {PixelFormat::yuyv, "yuyv", 1, {2}, {0}, {0}, cv_make_type(kCv8U, 2), 2},
}};
static_assert(static_cast<std::size_t>(PixelFormat::yuyv) + 1 == kFormats.size());

constexpr bool table_in_enum_order() {
    for (std::size_t i = 0; i < kFormats.size(); ++i)
        if (static_cast<std::size_t>(kFormats[i].format) != i) return false;
    return true;
}
static_assert(table_in_enum_order());

// Bytes of one element of an OpenCV type (depth in the low 3 bits, channels -
// 1 above); 0 for a type no frame can have.
std::uint64_t element_bytes(std::int32_t cv_type) {
    if (cv_type < 0 || cv_type >= (512 << 3)) return 0;
    constexpr std::uint32_t kDepthBytes[8] = {1, 1, 2, 2, 4, 4, 8, 2};
    return kDepthBytes[cv_type & 7] * (static_cast<std::uint64_t>(cv_type >> 3) + 1);
}
}  // namespace

const PixelFormatInfo& format_info(PixelFormat format) {
    const auto i = static_cast<std::uint32_t>(format);
    return i < kFormats.size() ? kFormats[i] : kFormats[0];
}

std::span<const PixelFormatInfo> pixel_formats() {
    return std::span(kFormats).subspan(1);
}

const char* to_string(PixelFormat format) {
    return format_info(format).name;
}

std::optional<PixelFormat> parse_pixel_format(std::string_view text) {
    for (const auto& row : pixel_formats())
        if (text == row.name) return row.format;
    return std::nullopt;
}

std::uint64_t FrameFormat::plane_rows(std::uint32_t p) const {
    return std::uint64_t{height} >> format_info(pixel_format).y_shift[p];
}

std::uint64_t FrameFormat::plane_row_bytes(std::uint32_t p) const {
    if (pixel_format == PixelFormat::unknown) return std::uint64_t{width} * element_bytes(cv_type);
    const PixelFormatInfo& info = format_info(pixel_format);
    return (std::uint64_t{width} >> info.x_shift[p]) * info.bytes_per_sample[p];
}

std::uint64_t FrameFormat::bytes() const {
    const std::uint32_t last = plane_count - 1;
    if (last >= kMaxPlanes) return 0;  // not a description frame_fits accepts
    return planes[last].offset + planes[last].stride * plane_rows(last);
}

bool FrameFormat::opencv_layout() const {
    const std::uint64_t s = planes[0].stride;
    if (planes[0].offset != 0) return false;
    switch (pixel_format) {
        case PixelFormat::i420:
            // OpenCV walks U and V as half rows of the one stride: tight rows,
            // or a height that keeps every chroma plane on whole Mat rows.
            return (s == width || height % 4 == 0) && s % 2 == 0 &&
                   planes[1] == Plane{s * height, s / 2} &&
                   planes[2] == Plane{s * height + s / 2 * (height / 2), s / 2};
        case PixelFormat::nv12:
            return planes[1] == Plane{s * height, s};
        default:
            return plane_count == 1;
    }
}

bool frame_fits(const FrameFormat& f, std::uint64_t capacity) {
    if (f.width == 0 || f.height == 0) return false;
    if (static_cast<std::uint32_t>(f.pixel_format) >= kFormats.size()) return false;
    const PixelFormatInfo& info = format_info(f.pixel_format);
    if (f.pixel_format == PixelFormat::unknown) {
        if (f.plane_count != 1 || element_bytes(f.cv_type) == 0) return false;
        if (product_exceeds(f.width, element_bytes(f.cv_type), f.planes[0].stride)) return false;
    } else {
        if (f.plane_count != info.plane_count || f.cv_type != info.cv_type) return false;
        // size_multiple is 1 or 2: a mask, not a division.
        if (((f.width | f.height) & (info.size_multiple - 1)) != 0) return false;
    }
    std::uint64_t end = 0;  // planes in order, none overlapping the one before
    for (std::uint32_t p = 0; p < f.plane_count; ++p) {
        const Plane& plane = f.planes[p];
        if (plane.stride == 0 || plane.stride < f.plane_row_bytes(p) || plane.offset < end)
            return false;
        if (plane.offset > capacity ||
            product_exceeds(f.plane_rows(p), plane.stride, capacity - plane.offset))
            return false;
        end = plane.offset + f.plane_rows(p) * plane.stride;
    }
    return true;
}

FrameFormat FrameFormat::packed(std::uint32_t width, std::uint32_t height, PixelFormat format) {
    FrameFormat f;
    f.width = width;
    f.height = height;
    f.pixel_format = format;
    f.cv_type = cv_type_of(format);
    f.plane_count = format_info(format).plane_count;
    std::uint64_t offset = 0;
    for (std::uint32_t p = 0; p < f.plane_count; ++p) {
        f.planes[p] = Plane{offset, f.plane_row_bytes(p)};
        offset += f.planes[p].stride * f.plane_rows(p);
    }
    return f;
}

FrameFormat FrameFormat::single_plane(std::uint32_t width, std::uint32_t height,
                                      std::int32_t cv_type, PixelFormat format,
                                      std::uint64_t stride) {
    FrameFormat f;
    f.width = width;
    f.height = height;
    f.cv_type = cv_type;
    f.pixel_format = format;
    f.plane_count = 1;
    f.planes[0] = Plane{0, stride};
    return f;
}

}  // namespace framebus
