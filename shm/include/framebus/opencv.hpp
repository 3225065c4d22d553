// The thin OpenCV adapter: cv::Mat headers over slots, no copies, and the one
// conversion to BGR (display, snapshots, JPEG) and from BGR (publishing a
// decoded frame in another format). Link framebus::opencv for it; the core
// (framebus::shm) does not need OpenCV.
#pragma once

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "framebus/reader.hpp"
#include "framebus/writer.hpp"

namespace framebus {

namespace opencv_detail {
inline cv::Mat whole_mat(std::byte* data, const FrameFormat& f) {
    if (!f.opencv_layout()) return {};
    const bool yuv420 = f.pixel_format == PixelFormat::i420 || f.pixel_format == PixelFormat::nv12;
    const int rows = static_cast<int>(yuv420 ? f.height / 2 * 3 : f.height);
    return cv::Mat(rows, static_cast<int>(f.width), f.cv_type, data + f.planes[0].offset,
                   static_cast<std::size_t>(f.stride()));
}

inline cv::Mat plane_mat(std::byte* data, const FrameFormat& f, std::uint32_t p) {
    if (p >= f.plane_count) return {};
    if (f.pixel_format == PixelFormat::unknown)
        return cv::Mat(static_cast<int>(f.height), static_cast<int>(f.width), f.cv_type, data,
                       static_cast<std::size_t>(f.stride()));
    const PixelFormatInfo& info = format_info(f.pixel_format);
    const int depth = f.pixel_format == PixelFormat::gray16 ? CV_16U : CV_8U;
    const int channels = static_cast<int>(info.bytes_per_sample[p]) / (depth == CV_16U ? 2 : 1);
    return cv::Mat(static_cast<int>(f.plane_rows(p)), static_cast<int>(f.width >> info.x_shift[p]),
                   CV_MAKETYPE(depth, channels), data + f.planes[p].offset,
                   static_cast<std::size_t>(f.planes[p].stride));
}
}  // namespace opencv_detail

// A writable view of the whole frame being written, as OpenCV lays it out
// (I420 and NV12: one CV_8UC1 Mat of height * 3 / 2 rows; YUYV: CV_8UC2).
// Empty when the planes are not in OpenCV's layout: use plane_mat then.
[[nodiscard]] inline cv::Mat as_mat(WriteSlot& slot) {
    return opencv_detail::whole_mat(slot.data(), slot.format());
}

// A view of a leased frame. The memory is mapped read-only: the const is
// enforced by the MMU, not just by the type.
[[nodiscard]] inline const cv::Mat as_mat(const Lease& lease) {
    return opencv_detail::whole_mat(const_cast<std::byte*>(lease.data()), lease.format());
}

// One plane: Y, U, V (I420), Y, UV (NV12), or the only plane of a packed format.
[[nodiscard]] inline cv::Mat plane_mat(WriteSlot& slot, std::uint32_t p) {
    return opencv_detail::plane_mat(slot.data(), slot.format(), p);
}
[[nodiscard]] inline const cv::Mat plane_mat(const Lease& lease, std::uint32_t p) {
    return opencv_detail::plane_mat(const_cast<std::byte*>(lease.data()), lease.format(), p);
}

// The FrameFormat of a Mat of a packed format (for acquire()).
[[nodiscard]] inline FrameFormat format_of(const cv::Mat& mat, PixelFormat pixel_format) {
    return FrameFormat::single_plane(static_cast<std::uint32_t>(mat.cols),
                                     static_cast<std::uint32_t>(mat.rows), mat.type(), pixel_format,
                                     static_cast<std::uint64_t>(mat.step[0]));
}

// Any frame to BGR, into `bgr` (reallocated only when its size or type
// differs). False for a format it cannot show (an unknown type of 2 or more
// than 4 channels).
inline bool to_bgr(const std::byte* data, const FrameFormat& f, cv::Mat& bgr) {
    auto* bytes = const_cast<std::byte*>(data);  // the views below are only read
    const cv::Mat whole = opencv_detail::whole_mat(bytes, f);
    switch (f.pixel_format) {
        case PixelFormat::bgr24:
            whole.copyTo(bgr);
            return true;
        case PixelFormat::rgb24:
            cv::cvtColor(whole, bgr, cv::COLOR_RGB2BGR);
            return true;
        case PixelFormat::gray8:
            cv::cvtColor(whole, bgr, cv::COLOR_GRAY2BGR);
            return true;
        case PixelFormat::bgra32:
            cv::cvtColor(whole, bgr, cv::COLOR_BGRA2BGR);
            return true;
        case PixelFormat::rgba32:
            cv::cvtColor(whole, bgr, cv::COLOR_RGBA2BGR);
            return true;
        case PixelFormat::gray16: {
            cv::Mat gray;
            whole.convertTo(gray, CV_8U, 1.0 / 256);
            cv::cvtColor(gray, bgr, cv::COLOR_GRAY2BGR);
            return true;
        }
        case PixelFormat::yuyv:
            cv::cvtColor(whole, bgr, cv::COLOR_YUV2BGR_YUY2);
            return true;
        case PixelFormat::nv12:
            if (!whole.empty())
                cv::cvtColor(whole, bgr, cv::COLOR_YUV2BGR_NV12);
            else
                cv::cvtColorTwoPlane(opencv_detail::plane_mat(bytes, f, 0),
                                     opencv_detail::plane_mat(bytes, f, 1), bgr,
                                     cv::COLOR_YUV2BGR_NV12);
            return true;
        case PixelFormat::i420: {
            if (!whole.empty()) {
                cv::cvtColor(whole, bgr, cv::COLOR_YUV2BGR_I420);
                return true;
            }
            // Planes elsewhere than OpenCV expects them: gather them first.
            const FrameFormat tight = FrameFormat::packed(f.width, f.height, f.pixel_format);
            cv::Mat gathered(static_cast<int>(f.height / 2 * 3), static_cast<int>(f.width),
                             CV_8UC1);
            auto* into = reinterpret_cast<std::byte*>(gathered.data);
            for (std::uint32_t p = 0; p < 3; ++p)
                opencv_detail::plane_mat(bytes, f, p)
                    .copyTo(opencv_detail::plane_mat(into, tight, p));
            cv::cvtColor(gathered, bgr, cv::COLOR_YUV2BGR_I420);
            return true;
        }
        case PixelFormat::unknown:
            switch (CV_MAT_CN(f.cv_type)) {
                case 1:
                    cv::cvtColor(whole, bgr, cv::COLOR_GRAY2BGR);
                    return true;
                case 3:
                    whole.copyTo(bgr);
                    return true;
                case 4:
                    cv::cvtColor(whole, bgr, cv::COLOR_BGRA2BGR);
                    return true;
                default:
                    return false;
            }
    }
    return false;
}

inline bool to_bgr(const Lease& lease, cv::Mat& bgr) {
    return to_bgr(lease.data(), lease.format(), bgr);
}

// A BGR image (CV_8UC3, the frame's size) into a frame of format `f` at
// `data`: the conversion writes the slot itself. `scratch` is reused between
// calls (NV12 and YUYV go through a full-resolution YUV image first).
inline void from_bgr(const cv::Mat& bgr, std::byte* data, const FrameFormat& f, cv::Mat& scratch) {
    cv::Mat whole = opencv_detail::whole_mat(data, f);
    switch (f.pixel_format) {
        case PixelFormat::bgr24:
            bgr.copyTo(whole);
            return;
        case PixelFormat::rgb24:
            cv::cvtColor(bgr, whole, cv::COLOR_BGR2RGB);
            return;
        case PixelFormat::gray8:
            cv::cvtColor(bgr, whole, cv::COLOR_BGR2GRAY);
            return;
        case PixelFormat::bgra32:
            cv::cvtColor(bgr, whole, cv::COLOR_BGR2BGRA);
            return;
        case PixelFormat::rgba32:
            cv::cvtColor(bgr, whole, cv::COLOR_BGR2RGBA);
            return;
        case PixelFormat::gray16:
            cv::cvtColor(bgr, scratch, cv::COLOR_BGR2GRAY);
            scratch.convertTo(whole, CV_16U, 256);
            return;
        case PixelFormat::i420:
            if (!whole.empty()) {
                cv::cvtColor(bgr, whole, cv::COLOR_BGR2YUV_I420);
                return;
            }
            break;
        case PixelFormat::nv12:
        case PixelFormat::yuyv:
        case PixelFormat::unknown:
            break;
    }
    if (f.pixel_format == PixelFormat::unknown) {
        bgr.copyTo(opencv_detail::plane_mat(data, f, 0));
        return;
    }
    if (f.pixel_format == PixelFormat::yuyv) {
        // OpenCV 4.6 has no BGR to YUY2. Through its I420 conversion, so the
        // range and coefficients are the ones YUV2BGR_YUY2 reads back: each
        // pair of pixels takes the chroma of its 2x2 block.
        cv::cvtColor(bgr, scratch, cv::COLOR_BGR2YUV_I420);
        const FrameFormat tight = FrameFormat::packed(f.width, f.height, PixelFormat::i420);
        auto* planar = reinterpret_cast<std::byte*>(scratch.data);
        const cv::Mat y_plane = opencv_detail::plane_mat(planar, tight, 0);
        const cv::Mat u_plane = opencv_detail::plane_mat(planar, tight, 1);
        const cv::Mat v_plane = opencv_detail::plane_mat(planar, tight, 2);
        for (int y = 0; y < y_plane.rows; ++y) {
            const auto* luma = y_plane.ptr<std::uint8_t>(y);
            const auto* u = u_plane.ptr<std::uint8_t>(y / 2);
            const auto* v = v_plane.ptr<std::uint8_t>(y / 2);
            auto* out = whole.ptr<std::uint8_t>(y);
            for (int x = 0; x + 1 < y_plane.cols; x += 2) {
                out[2 * x + 0] = luma[x];
                out[2 * x + 1] = u[x / 2];
                out[2 * x + 2] = luma[x + 1];
                out[2 * x + 3] = v[x / 2];
            }
        }
        return;
    }
    // I420 planes (into scratch), then each plane where the slot wants it;
    // NV12 interleaves U and V.
    cv::cvtColor(bgr, scratch, cv::COLOR_BGR2YUV_I420);
    const FrameFormat tight = FrameFormat::packed(f.width, f.height, PixelFormat::i420);
    auto* planar = reinterpret_cast<std::byte*>(scratch.data);
    opencv_detail::plane_mat(planar, tight, 0).copyTo(opencv_detail::plane_mat(data, f, 0));
    if (f.pixel_format == PixelFormat::i420) {
        for (std::uint32_t p = 1; p < 3; ++p)
            opencv_detail::plane_mat(planar, tight, p).copyTo(opencv_detail::plane_mat(data, f, p));
        return;
    }
    const cv::Mat u = opencv_detail::plane_mat(planar, tight, 1);
    const cv::Mat v = opencv_detail::plane_mat(planar, tight, 2);
    cv::Mat uv = opencv_detail::plane_mat(data, f, 1);
    const cv::Mat channels[] = {u, v};
    cv::merge(channels, 2, uv);
}

}  // namespace framebus
