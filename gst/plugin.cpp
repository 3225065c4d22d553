// The `framebus` GStreamer plugin module: framebussrc and framebussink.
#include <gst/gst.h>

#include "elements.hpp"

#ifndef FRAMEBUS_VERSION
#define FRAMEBUS_VERSION "unknown"
#endif

namespace {

gboolean plugin_init(GstPlugin* plugin) {
    return framebus::gst::register_elements(plugin);
}

}  // namespace

#define PACKAGE "framebus"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, framebus,
                  "Zero-copy shared-memory frame bus: read and publish framebus segments",
                  plugin_init, FRAMEBUS_VERSION, "unknown", "framebus", "framebus")
