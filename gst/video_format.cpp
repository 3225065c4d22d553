#include "video_format.hpp"

#include <array>
#include <cstring>
#include <utility>

namespace framebus::gst {

namespace {

constexpr std::array kFormats = {
    std::pair{PixelFormat::bgr24, GST_VIDEO_FORMAT_BGR},
    std::pair{PixelFormat::rgb24, GST_VIDEO_FORMAT_RGB},
    std::pair{PixelFormat::gray8, GST_VIDEO_FORMAT_GRAY8},
    std::pair{PixelFormat::gray16, GST_VIDEO_FORMAT_GRAY16_LE},
    std::pair{PixelFormat::bgra32, GST_VIDEO_FORMAT_BGRA},
    std::pair{PixelFormat::rgba32, GST_VIDEO_FORMAT_RGBA},
    std::pair{PixelFormat::i420, GST_VIDEO_FORMAT_I420},
    std::pair{PixelFormat::nv12, GST_VIDEO_FORMAT_NV12},
    std::pair{PixelFormat::yuyv, GST_VIDEO_FORMAT_YUY2},
};

}  // namespace

GstVideoFormat to_gst(PixelFormat format) {
    for (const auto& [bus, gst] : kFormats)
        if (bus == format) return gst;
    return GST_VIDEO_FORMAT_UNKNOWN;
}

std::optional<PixelFormat> from_gst(GstVideoFormat format) {
    for (const auto& [bus, gst] : kFormats)
        if (gst == format) return bus;
    return std::nullopt;
}

GstCaps* template_caps() {
    GValue list = G_VALUE_INIT;
    gst_value_list_init(&list, kFormats.size());
    for (const auto& entry : kFormats) {
        GValue name = G_VALUE_INIT;
        g_value_init(&name, G_TYPE_STRING);
        g_value_set_static_string(&name, gst_video_format_to_string(entry.second));
        gst_value_list_append_and_take_value(&list, &name);
    }
    GstCaps* caps = gst_caps_new_simple("video/x-raw", "width", GST_TYPE_INT_RANGE, 1, G_MAXINT,
                                        "height", GST_TYPE_INT_RANGE, 1, G_MAXINT, "framerate",
                                        GST_TYPE_FRACTION_RANGE, 0, 1, G_MAXINT, 1, nullptr);
    gst_caps_set_value(caps, "format", &list);
    g_value_unset(&list);
    return caps;
}

bool video_info_of(const FrameFormat& format, GstVideoInfo& info) {
    const GstVideoFormat gst_format = to_gst(format.pixel_format);
    if (gst_format == GST_VIDEO_FORMAT_UNKNOWN) return false;
    if (!gst_video_info_set_format(&info, gst_format, format.width, format.height)) return false;
    if (GST_VIDEO_INFO_N_PLANES(&info) != format.plane_count) return false;
    for (std::uint32_t p = 0; p < format.plane_count; ++p) {
        const Plane& plane = format.planes[p];
        info.offset[p] = plane.offset;
        info.stride[p] = static_cast<gint>(plane.stride);
    }
    info.size = format.bytes();
    GST_VIDEO_INFO_FPS_N(&info) = 0;
    GST_VIDEO_INFO_FPS_D(&info) = 1;
    return true;
}

std::optional<FrameFormat> frame_format_of(const GstVideoInfo& info) {
    const auto format = from_gst(GST_VIDEO_INFO_FORMAT(&info));
    if (!format) return std::nullopt;
    return FrameFormat::packed(GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info), *format);
}

bool same_layout(const GstVideoInfo& a, const GstVideoInfo& b) {
    if (GST_VIDEO_INFO_N_PLANES(&a) != GST_VIDEO_INFO_N_PLANES(&b)) return false;
    for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES(&a); ++p)
        if (a.offset[p] != b.offset[p] || a.stride[p] != b.stride[p]) return false;
    return true;
}

void copy_planes(const std::byte* src, const GstVideoInfo& src_info, GstVideoFrame& dst) {
    for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&dst); ++p) {
        const auto* from = src + GST_VIDEO_INFO_PLANE_OFFSET(&src_info, p);
        const auto from_stride =
            static_cast<std::size_t>(GST_VIDEO_INFO_PLANE_STRIDE(&src_info, p));
        auto* to = static_cast<std::byte*>(GST_VIDEO_FRAME_PLANE_DATA(&dst, p));
        const auto to_stride = static_cast<std::size_t>(GST_VIDEO_FRAME_PLANE_STRIDE(&dst, p));
        // Bytes of pixels in a row of this plane (no padding).
        const auto row = static_cast<std::size_t>(GST_VIDEO_FRAME_COMP_WIDTH(&dst, p)) *
                         static_cast<std::size_t>(GST_VIDEO_FRAME_COMP_PSTRIDE(&dst, p));
        const auto rows = static_cast<std::size_t>(GST_VIDEO_FRAME_COMP_HEIGHT(&dst, p));
        if (from_stride == to_stride) {
            std::memcpy(to, from, from_stride * (rows - 1) + row);
            continue;
        }
        for (std::size_t y = 0; y < rows; ++y)
            std::memcpy(to + y * to_stride, from + y * from_stride, row);
    }
}

}  // namespace framebus::gst
