#include "elements.hpp"

#include "framebus_sink.hpp"
#include "framebus_src.hpp"

#ifndef FRAMEBUS_VERSION
#define FRAMEBUS_VERSION "unknown"
#endif

namespace framebus::gst {

gboolean register_elements(GstPlugin* plugin) {
    return gst_element_register(plugin, "framebussrc", GST_RANK_NONE, GST_TYPE_FRAMEBUS_SRC) &&
           gst_element_register(plugin, "framebussink", GST_RANK_NONE, GST_TYPE_FRAMEBUS_SINK);
}

bool register_static_plugin() {
    // An installed or GST_PLUGIN_PATH copy of the plugin is the same code.
    if (gst_registry_lookup_feature(gst_registry_get(), "framebussrc") != nullptr) return true;
    return gst_plugin_register_static(
        GST_VERSION_MAJOR, GST_VERSION_MINOR, "framebus",
        "Zero-copy shared-memory frame bus: read and publish framebus segments", register_elements,
        FRAMEBUS_VERSION, "unknown", "framebus", "framebus", "framebus");
}

}  // namespace framebus::gst
