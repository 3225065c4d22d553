// A frame, straight from its leased slot, to JPEG or PNG: the only place that
// knows how each pixel format is fed to the encoders.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "framebus/frame.hpp"
#include "jpeg_encoder.hpp"

namespace framebus::serve {

// What a client asks for: every client with the same variant shares one
// encoding of each frame.
struct Variant {
    int quality = 80;  // 1..100
    int width = 0;     // 0: the frame's own width; never scaled up
    friend auto operator<=>(const Variant&, const Variant&) = default;
};

// Output size for a frame of `format` (aspect ratio kept).
[[nodiscard]] cv::Size output_size(const FrameFormat& format, int width);

class FrameEncoder {
  public:
    // Empty on an unsupported pixel format or an encoder failure.
    [[nodiscard]] EncodedBytes jpeg(const std::byte* frame, const FrameFormat& format,
                                    const Variant& variant);
    [[nodiscard]] EncodedBytes png(const std::byte* frame, const FrameFormat& format);

  private:
    JpegEncoder jpeg_encoder_;
    cv::Mat converted_;  // reused: no allocation per frame once the size is steady
    cv::Mat scaled_;
    cv::Mat full_range_[3];  // I420 planes in JPEG's full range (Y, U, V)
};

}  // namespace framebus::serve
