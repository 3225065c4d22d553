#include "framebus/stamp.hpp"

#include <cstring>

namespace framebus {

namespace {
std::uint64_t row_bytes(const FrameFormat& f) {
    const std::uint32_t bpp = bytes_per_pixel(f.pixel_format);
    return bpp != 0 ? std::uint64_t{f.width} * bpp : f.stride;
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
    const std::uint64_t row = row_bytes(format);
    std::uint64_t h = 0x243F6A8885A308D3ULL ^ format.width ^ (std::uint64_t{format.height} << 32);
    for (std::uint32_t y = 0; y < format.height; ++y) {
        const std::byte* p = frame + y * format.stride;
        std::uint64_t n = row;
        if (y == 0) p += kStampBytes, n -= kStampBytes;
        h = mix(h, p, n);
    }
    return h;
}

bool stamp_frame(std::byte* frame, const FrameFormat& format, std::uint64_t number) {
    if (row_bytes(format) < kStampBytes || format.height == 0) return false;
    const std::uint64_t inverse = ~number;
    std::memcpy(frame, &number, 8);
    std::memcpy(frame + 8, &inverse, 8);
    const std::uint64_t sum = frame_checksum(frame, format);
    std::memcpy(frame + 16, &sum, 8);
    return true;
}

StampResult check_stamp(const std::byte* frame, const FrameFormat& format) {
    StampResult result;
    if (row_bytes(format) < kStampBytes || format.height == 0) return result;
    std::uint64_t number, inverse, sum;
    std::memcpy(&number, frame, 8);
    std::memcpy(&inverse, frame + 8, 8);
    std::memcpy(&sum, frame + 16, 8);
    if (inverse != ~number) return result;
    result.number = number;
    result.check = sum == frame_checksum(frame, format) ? StampCheck::ok : StampCheck::bad_checksum;
    return result;
}

}  // namespace framebus
