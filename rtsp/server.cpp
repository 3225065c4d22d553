// Modelled on gst-rtsp-server's examples/test-launch.c (a media factory from
// a launch line, shared between clients), with the mount points made on
// demand: a path is served only if it names a valid, existing segment, so
// anything else (bad names, paths, absent segments) is a 404.
#include "server.hpp"

#include <fmt/core.h>

#include <string>

#include "framebus/inspect.hpp"
#include "framebus/name.hpp"

namespace framebus::rtsp {

namespace {

struct SegmentMountsState {
    Options options;
};

}  // namespace

}  // namespace framebus::rtsp

G_BEGIN_DECLS
#define FRAMEBUS_TYPE_SEGMENT_MOUNTS (framebus_segment_mounts_get_type())
G_DECLARE_FINAL_TYPE(FramebusSegmentMounts, framebus_segment_mounts, FRAMEBUS, SEGMENT_MOUNTS,
                     GstRTSPMountPoints)
G_END_DECLS

struct _FramebusSegmentMounts {
    GstRTSPMountPoints parent;
    framebus::rtsp::SegmentMountsState* state;
};

G_DEFINE_TYPE(FramebusSegmentMounts, framebus_segment_mounts, GST_TYPE_RTSP_MOUNT_POINTS)

namespace {

// Called for every request before its path is matched.
gchar* make_path(GstRTSPMountPoints* mounts, const GstRTSPUrl* url) {
    gchar* path =
        GST_RTSP_MOUNT_POINTS_CLASS(framebus_segment_mounts_parent_class)->make_path(mounts, url);
    if (path == nullptr || path[0] != '/') return path;
    // "/NAME", or "/NAME/stream=0" for SETUP: the segment name is the first part.
    std::string name(path + 1);
    if (const auto slash = name.find('/'); slash != std::string::npos) name.resize(slash);
    if (!framebus::validate_name(name)) return path;  // no mount: 404
    if (!framebus::inspect(name)) return path;        // not (or no longer) a segment: 404
    const std::string mount = "/" + name;
    GstRTSPMediaFactory* existing = gst_rtsp_mount_points_match(mounts, mount.c_str(), nullptr);
    if (existing != nullptr) {
        g_object_unref(existing);
        return path;
    }
    const auto& options = FRAMEBUS_SEGMENT_MOUNTS(mounts)->state->options;
    GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
    const std::string launch = framebus::rtsp::media_launch_line(options, name);
    gst_rtsp_media_factory_set_launch(factory, launch.c_str());
    gst_rtsp_media_factory_set_shared(factory, TRUE);  // one pipeline for every client
    gst_rtsp_media_factory_set_latency(factory, 0);
    if (!options.quiet) fmt::print(stderr, "framebus-rtsp: serving {}\n", mount);
    gst_rtsp_mount_points_add_factory(mounts, mount.c_str(), factory);
    return path;
}

void mounts_finalize(GObject* object) {
    delete FRAMEBUS_SEGMENT_MOUNTS(object)->state;
    G_OBJECT_CLASS(framebus_segment_mounts_parent_class)->finalize(object);
}

}  // namespace

static void framebus_segment_mounts_init(FramebusSegmentMounts* self) {
    self->state = new framebus::rtsp::SegmentMountsState;
}

static void framebus_segment_mounts_class_init(FramebusSegmentMountsClass* klass) {
    G_OBJECT_CLASS(klass)->finalize = mounts_finalize;
    GST_RTSP_MOUNT_POINTS_CLASS(klass)->make_path = make_path;
}

namespace framebus::rtsp {

GstRTSPServer* make_server(const Options& options) {
    GstRTSPServer* server = gst_rtsp_server_new();
    gst_rtsp_server_set_address(server, options.host.c_str());
    gst_rtsp_server_set_service(server, std::to_string(options.port).c_str());
    auto* mounts =
        static_cast<FramebusSegmentMounts*>(g_object_new(FRAMEBUS_TYPE_SEGMENT_MOUNTS, nullptr));
    mounts->state->options = options;
    gst_rtsp_server_set_mount_points(server, GST_RTSP_MOUNT_POINTS(mounts));
    g_object_unref(mounts);
    return server;
}

}  // namespace framebus::rtsp
