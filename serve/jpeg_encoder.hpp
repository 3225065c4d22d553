// JPEG through libturbojpeg: one compressor handle per encoding thread, the
// output in a buffer that is shared by every client it is sent to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace framebus::serve {

// Encoded bytes, immutable, shared by every client they are sent to. The
// owner is libturbojpeg's buffer (tjFree) or OpenCV's std::vector.
class EncodedBytes {
  public:
    EncodedBytes() = default;
    EncodedBytes(std::shared_ptr<const unsigned char> bytes, std::size_t size)
        : bytes_(std::move(bytes)), size_(size) {}
    [[nodiscard]] const void* data() const { return bytes_.get(); }
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] bool empty() const { return size_ == 0; }

  private:
    std::shared_ptr<const unsigned char> bytes_;
    std::size_t size_ = 0;
};

enum class JpegInput { bgr, rgb, bgrx, rgbx, gray };

class JpegEncoder {
  public:
    JpegEncoder();
    ~JpegEncoder();
    JpegEncoder(const JpegEncoder&) = delete;
    JpegEncoder& operator=(const JpegEncoder&) = delete;

    // Packed pixels (rows `stride` bytes apart). Empty on failure.
    [[nodiscard]] EncodedBytes encode(const std::byte* pixels, int width, int height,
                                      std::size_t stride, JpegInput input, int quality);
    // YUV 4:2:0 planes (I420), no conversion to BGR first.
    [[nodiscard]] EncodedBytes encode_i420(const std::byte* y, int y_stride, const std::byte* u,
                                           const std::byte* v, int uv_stride, int width, int height,
                                           int quality);

  private:
    void* handle_;  // tjhandle
};

}  // namespace framebus::serve
