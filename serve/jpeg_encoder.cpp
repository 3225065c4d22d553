#include "jpeg_encoder.hpp"

#include <turbojpeg.h>

namespace framebus::serve {

namespace {

void free_jpeg(unsigned char* bytes) {
    tjFree(bytes);
}

int pixel_format_of(JpegInput input) {
    switch (input) {
        case JpegInput::bgr:
            return TJPF_BGR;
        case JpegInput::rgb:
            return TJPF_RGB;
        case JpegInput::bgrx:
            return TJPF_BGRX;
        case JpegInput::rgbx:
            return TJPF_RGBX;
        case JpegInput::gray:
            return TJPF_GRAY;
    }
    return TJPF_BGR;
}

}  // namespace

JpegEncoder::JpegEncoder() : handle_(tjInitCompress()) {}

JpegEncoder::~JpegEncoder() {
    if (handle_ != nullptr) tjDestroy(handle_);
}

EncodedBytes JpegEncoder::encode(const std::byte* pixels, int width, int height, std::size_t stride,
                                 JpegInput input, int quality) {
    if (handle_ == nullptr) return {};
    unsigned char* jpeg = nullptr;
    unsigned long size = 0;
    const int subsampling = input == JpegInput::gray ? TJSAMP_GRAY : TJSAMP_420;
    // The source is read-only shared memory; turbojpeg's API just is not const.
    const int failed = tjCompress2(handle_, reinterpret_cast<const unsigned char*>(pixels), width,
                                   static_cast<int>(stride), height, pixel_format_of(input), &jpeg,
                                   &size, subsampling, quality, TJFLAG_FASTDCT);
    if (failed != 0) {
        tjFree(jpeg);
        return {};
    }
    return EncodedBytes(std::shared_ptr<const unsigned char>(jpeg, free_jpeg), size);
}

EncodedBytes JpegEncoder::encode_i420(const std::byte* y, int y_stride, const std::byte* u,
                                      const std::byte* v, int uv_stride, int width, int height,
                                      int quality) {
    if (handle_ == nullptr) return {};
    const unsigned char* planes[3] = {reinterpret_cast<const unsigned char*>(y),
                                      reinterpret_cast<const unsigned char*>(u),
                                      reinterpret_cast<const unsigned char*>(v)};
    const int strides[3] = {y_stride, uv_stride, uv_stride};
    unsigned char* jpeg = nullptr;
    unsigned long size = 0;
    const int failed = tjCompressFromYUVPlanes(handle_, planes, width, strides, height, TJSAMP_420,
                                               &jpeg, &size, quality, TJFLAG_FASTDCT);
    if (failed != 0) {
        tjFree(jpeg);
        return {};
    }
    return EncodedBytes(std::shared_ptr<const unsigned char>(jpeg, free_jpeg), size);
}

}  // namespace framebus::serve
