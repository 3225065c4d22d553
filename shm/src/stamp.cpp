#include "framebus/stamp.hpp"

#include <cstring>

namespace framebus {

namespace {
std::uint64_t row_bytes(const FrameFormat& f) {
    return f.plane_row_bytes(0);
}

// 8 bytes at a time, multiply-xorshift mixing: fast enough to check every
// byte of a 4K frame per frame, and any changed byte changes the sum.
std::uint64_t mix(std::uint64_t h, const std::byte* p, std::uint64_t n) {
    constexpr std::uint64_t kPrime = 0x9E3779B97F4A7C15ULL;
    std::uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * kPrime;
        h ^= h >> 29;
    }
    for (; i < n; ++i) h = (h ^ static_cast<std::uint64_t>(p[i])) * kPrime;
    return h ^ (h >> 32);
}
}  // namespace

std::uint64_t frame_checksum(const std::byte* frame, const FrameFormat& format) {
    std::uint64_t h = 0x243F6A8885A308D3ULL ^ format.width ^ (std::uint64_t{format.height} << 32);
    for (std::uint32_t plane = 0; plane < format.plane_count && plane < kMaxPlanes; ++plane) {
        const Plane& layout = format.planes[plane];
        const std::uint64_t row = format.plane_row_bytes(plane);
        const std::uint64_t rows = format.plane_rows(plane);
        for (std::uint64_t y = 0; y < rows; ++y) {
            const std::byte* p = frame + layout.offset + y * layout.stride;
            std::uint64_t n = row;
            if (plane == 0 && y == 0) p += kStampBytes, n -= kStampBytes;
            h = mix(h, p, n);
        }
    }
    return h;
}

bool stamp_frame(std::byte* frame, const FrameFormat& format, std::uint64_t number) {
    if (row_bytes(format) < kStampBytes || format.height == 0) return false;
    std::byte* stamp = frame + format.planes[0].offset;
    const std::uint64_t inverse = ~number;
    std::memcpy(stamp, &number, 8);
    std::memcpy(stamp + 8, &inverse, 8);
    const std::uint64_t sum = frame_checksum(frame, format);
    std::memcpy(stamp + 16, &sum, 8);
    return true;
}

StampResult check_stamp(const std::byte* frame, const FrameFormat& format) {
    StampResult result;
    if (row_bytes(format) < kStampBytes || format.height == 0) return result;
    const std::byte* stamp = frame + format.planes[0].offset;
    std::uint64_t number, inverse, sum;
    std::memcpy(&number, stamp, 8);
    std::memcpy(&inverse, stamp + 8, 8);
    std::memcpy(&sum, stamp + 16, 8);
    if (inverse != ~number) return result;
    result.number = number;
    result.check = sum == frame_checksum(frame, format) ? StampCheck::ok : StampCheck::bad_checksum;
    return result;
}

}  // namespace framebus
