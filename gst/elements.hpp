// Registers framebussrc and framebussink with a plugin: the `framebus`
// plugin module does it, and so do programs that embed the elements
// (framebus-rtsp) through gst_plugin_register_static().
#pragma once

#include <gst/gst.h>

namespace framebus::gst {

gboolean register_elements(GstPlugin* plugin);

// The elements as a static plugin of this process: no GST_PLUGIN_PATH needed.
bool register_static_plugin();

}  // namespace framebus::gst
