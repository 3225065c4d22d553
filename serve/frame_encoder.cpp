#include "frame_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "framebus/opencv.hpp"

namespace framebus::serve {

namespace {

cv::Mat view_of(const std::byte* frame, const FrameFormat& format) {
    return cv::Mat(static_cast<int>(format.height), static_cast<int>(format.width), format.cv_type,
                   const_cast<std::byte*>(frame), static_cast<std::size_t>(format.stride()));
}

// The JPEG input a Mat of this pixel format is, or nullopt if it needs converting.
std::optional<JpegInput> direct_input(PixelFormat format) {
    switch (format) {
        case PixelFormat::bgr24:
            return JpegInput::bgr;
        case PixelFormat::rgb24:
            return JpegInput::rgb;
        case PixelFormat::bgra32:
            return JpegInput::bgrx;
        case PixelFormat::rgba32:
            return JpegInput::rgbx;
        case PixelFormat::gray8:
            return JpegInput::gray;
        default:
            return std::nullopt;
    }
}

// The bus's YUV is BT.601 limited range (Y 16..235, chroma 16..240 around 128),
// as to_bgr() reads it; JPEG's YCbCr is full range. Tables that stretch one to
// the other: a table pass per plane, far cheaper than converting to BGR.
const cv::Mat& range_table(bool luma) {
    static const auto make = [](bool is_luma) {
        cv::Mat table(1, 256, CV_8U);
        for (int i = 0; i < 256; ++i) {
            const double value =
                is_luma ? (i - 16) * 255.0 / 219.0 : (i - 128) * 255.0 / 224.0 + 128.0;
            table.at<std::uint8_t>(i) = cv::saturate_cast<std::uint8_t>(value);
        }
        return table;
    };
    static const cv::Mat luma_table = make(true), chroma_table = make(false);
    return luma ? luma_table : chroma_table;
}

}  // namespace

cv::Size output_size(const FrameFormat& format, int width) {
    const int frame_width = static_cast<int>(format.width);
    const int frame_height = static_cast<int>(format.height);
    if (width <= 0 || width >= frame_width) return {frame_width, frame_height};
    const double scale = static_cast<double>(width) / frame_width;
    return {width, std::max(1, static_cast<int>(std::lround(frame_height * scale)))};
}

EncodedBytes FrameEncoder::jpeg(const std::byte* frame, const FrameFormat& format,
                                const Variant& variant) {
    const cv::Size size = output_size(format, variant.width);
    if (format.pixel_format == PixelFormat::i420 && size.width == static_cast<int>(format.width)) {
        // From the planes, stretched to full range: no conversion to BGR
        // (bench/serve_jpeg_bench.cpp).
        const int width = static_cast<int>(format.width), height = static_cast<int>(format.height);
        for (int plane = 0; plane < 3; ++plane) {
            const bool luma = plane == 0;
            const cv::Mat view(luma ? height : (height + 1) / 2, luma ? width : (width + 1) / 2,
                               CV_8UC1, const_cast<std::byte*>(frame + format.planes[plane].offset),
                               static_cast<std::size_t>(format.planes[plane].stride));
            cv::LUT(view, range_table(luma), full_range_[plane]);
        }
        return jpeg_encoder_.encode_i420(reinterpret_cast<const std::byte*>(full_range_[0].data),
                                         static_cast<int>(full_range_[0].step[0]),
                                         reinterpret_cast<const std::byte*>(full_range_[1].data),
                                         reinterpret_cast<const std::byte*>(full_range_[2].data),
                                         static_cast<int>(full_range_[1].step[0]), width, height,
                                         variant.quality);
    }
    cv::Mat source;
    std::optional<JpegInput> input = direct_input(format.pixel_format);
    if (input) {
        source = view_of(frame, format);
    } else {
        if (format.pixel_format == PixelFormat::gray16) {
            source = view_of(frame, format);
            source.convertTo(converted_, CV_8U, 1.0 / 256);
            source = converted_;
            input = JpegInput::gray;
        } else if (to_bgr(frame, format, converted_)) {  // YUV formats, and the rest
            source = converted_;
            input = JpegInput::bgr;
        } else {
            return {};
        }
    }
    if (size != source.size()) {
        cv::resize(source, scaled_, size, 0, 0, cv::INTER_AREA);
        source = scaled_;
    }
    return jpeg_encoder_.encode(reinterpret_cast<const std::byte*>(source.data), source.cols,
                                source.rows, source.step[0], *input, variant.quality);
}

EncodedBytes FrameEncoder::png(const std::byte* frame, const FrameFormat& format) {
    cv::Mat source;
    const bool packed = format.plane_count == 1 && format.pixel_format != PixelFormat::yuyv;
    if (packed) source = view_of(frame, format);
    if (!packed) {
        if (!to_bgr(frame, format, converted_)) return {};
        source = converted_;
    } else if (format.pixel_format == PixelFormat::rgb24) {
        cv::cvtColor(source, converted_, cv::COLOR_RGB2BGR);
        source = converted_;
    } else if (format.pixel_format == PixelFormat::rgba32) {
        cv::cvtColor(source, converted_, cv::COLOR_RGBA2BGRA);
        source = converted_;
    }
    auto png = std::make_shared<std::vector<unsigned char>>();
    // Fastest zlib level: snapshots are for exact checks, not for archiving.
    if (!cv::imencode(".png", source, *png, {cv::IMWRITE_PNG_COMPRESSION, 1})) return {};
    const std::size_t size = png->size();
    return EncodedBytes(std::shared_ptr<const unsigned char>(png, png->data()), size);
}

}  // namespace framebus::serve
