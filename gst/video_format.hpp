// Translation between a slot's description (framebus::FrameFormat) and
// GStreamer's video description (GstVideoInfo, caps, GstVideoMeta).
#pragma once

#include <gst/video/video.h>

#include <cstdint>
#include <optional>

#include "framebus/frame.hpp"

namespace framebus::gst {

// GStreamer's name for a bus pixel format; GST_VIDEO_FORMAT_UNKNOWN if it has none.
[[nodiscard]] GstVideoFormat to_gst(PixelFormat format);
[[nodiscard]] std::optional<PixelFormat> from_gst(GstVideoFormat format);

// "{ BGR, RGB, ... }": every format both sides know, for pad templates.
[[nodiscard]] GstCaps* template_caps();

// The slot's layout as a GstVideoInfo (offsets and strides from the slot,
// framerate 0/1: the bus carries no rate). False for formats GStreamer
// does not know.
[[nodiscard]] bool video_info_of(const FrameFormat& format, GstVideoInfo& info);

// The slot layout the sink writes for a negotiated format: tight rows, planes
// back to back (what OpenCV readers expect).
[[nodiscard]] std::optional<FrameFormat> frame_format_of(const GstVideoInfo& info);

// Same frame, same bytes: do two layouts agree plane by plane?
[[nodiscard]] bool same_layout(const GstVideoInfo& a, const GstVideoInfo& b);

// Copies every plane's rows from `src` (laid out as src_info says) into a
// mapped frame.
void copy_planes(const std::byte* src, const GstVideoInfo& src_info, GstVideoFrame& dst);

}  // namespace framebus::gst
