// The thin OpenCV adapter: cv::Mat headers over slots, no copies. Link
// framebus::opencv for it; the core (framebus::shm) does not need OpenCV.
#pragma once

#include <opencv2/core.hpp>

#include "framebus/reader.hpp"
#include "framebus/writer.hpp"

namespace framebus {

// A writable view of the slot being written, in the slot's format.
[[nodiscard]] inline cv::Mat as_mat(WriteSlot& slot) {
    const FrameFormat& f = slot.format();
    return cv::Mat(static_cast<int>(f.height), static_cast<int>(f.width), f.cv_type, slot.data(),
                   static_cast<std::size_t>(f.stride));
}

// A view of a leased frame. The memory is mapped read-only: the const is
// enforced by the MMU, not just by the type.
[[nodiscard]] inline const cv::Mat as_mat(const Lease& lease) {
    const FrameFormat& f = lease.format();
    return cv::Mat(static_cast<int>(f.height), static_cast<int>(f.width), f.cv_type,
                   const_cast<std::byte*>(lease.data()), static_cast<std::size_t>(f.stride));
}

// The FrameFormat of a Mat (for acquire()).
[[nodiscard]] inline FrameFormat format_of(const cv::Mat& mat, PixelFormat pixel_format) {
    return FrameFormat{static_cast<std::uint32_t>(mat.cols), static_cast<std::uint32_t>(mat.rows),
                       mat.type(), pixel_format, static_cast<std::uint64_t>(mat.step[0])};
}

}  // namespace framebus
