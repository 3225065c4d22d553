// The few places where the plugin meets a difference between the library's
// layout v1 and v2 API (plane descriptions, several leases per reader,
// following). FRAMEBUS_GST_LAYOUT_V2 comes from a configure check.
#pragma once

#include <cstdint>

#include "framebus/frame.hpp"
#include "framebus/reader.hpp"

namespace framebus::gst {

struct PlaneLayout {
    std::uint64_t offset = 0;  // from the slot's start
    std::uint64_t stride = 0;
};

#if FRAMEBUS_GST_LAYOUT_V2
inline std::uint32_t plane_count(const FrameFormat& f) {
    return f.plane_count;
}
inline PlaneLayout plane_layout(const FrameFormat& f, std::uint32_t p) {
    return {f.planes[p].offset, f.planes[p].stride};
}
inline std::uint32_t reader_max_leases(const Reader& reader) {
    return reader.max_leases();
}
#else
inline std::uint32_t plane_count(const FrameFormat&) {
    return 1;
}
inline PlaneLayout plane_layout(const FrameFormat& f, std::uint32_t) {
    return {0, f.stride};
}
inline std::uint32_t reader_max_leases(const Reader&) {
    return 1;
}
#endif

}  // namespace framebus::gst
